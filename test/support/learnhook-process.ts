// A real `node bin/learnhook.js …` process for tests: started (ready when it prints that it is running, not when a
// poll finds it), killed with SIGKILL, restarted; an exit nobody asked for is reported, never hidden.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A process' start-up is a few seconds of TypeScript loading, far more on a loaded machine. */
const startDeadlineMs = 120_000;

export interface UnexpectedExit {
  process: string;
  code: number | null;
  signal: string | null;
  /** The last lines it wrote to stderr. */
  output: string;
}

export interface LearnhookProcess {
  readonly name: string;
  /** Starts it and resolves once it prints that it is running. */
  start(): Promise<void>;
  /** SIGKILL, and resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a clean stop), and resolves once it is gone. */
  stop(): Promise<void>;
  readonly running: boolean;
  /** Its process id while it runs (lease owners name it: KEY@host:pid). */
  readonly pid: number | undefined;
}

/**
 * `args` follow `node bin/learnhook.js`; `onUnexpectedExit` hears of every exit that was not asked for (the process
 * is then left down: the caller decides whether to start it again).
 */
export function learnhookProcess(name: string, args: string[], onUnexpectedExit: (exit: UnexpectedExit) => void): LearnhookProcess {
  let child: ChildProcess | undefined;
  let expectingExit = false;
  let output = '';
  const gone = () =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
    });
  return {
    name,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return child?.pid;
    },
    start() {
      expectingExit = false;
      output = '';
      const started = spawn(process.execPath, [path.join(root, 'bin/learnhook.js'), ...args], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LEARNHOOK_LOG_LEVEL: 'warn' },
      });
      child = started;
      return new Promise<void>((resolve, reject) => {
        let ready = false;
        started.stdout?.on('data', (chunk: Buffer) => {
          output = `${output}${chunk.toString()}`.slice(-4000);
          if (!ready && output.includes('is running')) {
            ready = true;
            clearTimeout(deadline);
            resolve();
          }
        });
        started.stderr?.on('data', (chunk: Buffer) => {
          output = `${output}${chunk.toString()}`.slice(-4000);
        });
        const deadline = setTimeout(() => {
          if (!ready) reject(new Error(`${name} did not say it was running within ${startDeadlineMs} ms: ${output}`));
        }, startDeadlineMs);
        started.once('exit', (code, signal) => {
          clearTimeout(deadline);
          if (!ready) reject(new Error(`${name} exited with ${code ?? signal} before it was running: ${output}`));
          else if (!expectingExit) onUnexpectedExit({ process: name, code, signal, output: output.slice(-1500) });
        });
      });
    },
    async kill() {
      expectingExit = true;
      child?.kill('SIGKILL');
      await gone();
    },
    async stop() {
      expectingExit = true;
      child?.kill('SIGTERM');
      await gone();
    },
  };
}
