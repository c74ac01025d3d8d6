// The bench's handle on the receiver process: start it, tell it what to expect, wait for everything, read the ledger.
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LedgerSummary } from './ledger.ts';

export type ReceiverCommand = { type: 'expect'; expected: Record<number, number> } | { type: 'summary' } | { type: 'close' };
export type ReceiverMessage =
  | { type: 'listening'; url: string; deadUrl: string }
  | { type: 'expecting' }
  | { type: 'complete' }
  | { type: 'summary'; summary: LedgerSummary; requests: number };

const folder = path.dirname(fileURLToPath(import.meta.url));

export interface Receiver {
  /** Where bench account `account`'s webhook posts. */
  urlOf(account: number): string;
  /** An endpoint that accepts connections and never answers. */
  deadUrl: string;
  pid: number;
  /** Starts a fresh ledger; resolves once the receiver has it. */
  expect(expected: Record<number, number>): Promise<void>;
  /** Resolves when every expected event has arrived, or rejects after `timeoutMs`. */
  whenComplete(timeoutMs: number): Promise<void>;
  summary(): Promise<{ summary: LedgerSummary; requests: number }>;
  close(): Promise<void>;
}

function nextMessage<T extends ReceiverMessage['type']>(child: ChildProcess, type: T): Promise<Extract<ReceiverMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ReceiverMessage) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message as Extract<ReceiverMessage, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`the bench receiver exited (code ${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function startReceiver(): Promise<Receiver> {
  const child = fork(path.join(folder, 'receiver-process.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { url, deadUrl } = await nextMessage(child, 'listening');
  let complete: Promise<unknown> = Promise.resolve();
  return {
    urlOf: (account) => `${url}/hook/${account}`,
    deadUrl: `${deadUrl}/hook/dead`,
    pid: child.pid ?? 0,
    async expect(expected) {
      const expecting = nextMessage(child, 'expecting');
      complete = nextMessage(child, 'complete');
      // Settled either way below; an unhandled rejection must not end the bench when the receiver exits first.
      complete.catch(() => {});
      child.send({ type: 'expect', expected } satisfies ReceiverCommand);
      await expecting;
    },
    async whenComplete(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not every event arrived within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([complete, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async summary() {
      const answer = nextMessage(child, 'summary');
      child.send({ type: 'summary' } satisfies ReceiverCommand);
      const { summary, requests } = await answer;
      return { summary, requests };
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'close' } satisfies ReceiverCommand);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
