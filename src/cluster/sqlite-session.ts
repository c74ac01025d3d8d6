// A process's cluster session on a SQLite file: alone on the file, but wake-ups reach its other threads on the same file.
import path from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import { type ClusterSession, newOwnerName, type WakeUpHandler, WakeUpsOfOneTurn } from './cluster-session.ts';

interface WakeUpMessage {
  channel: string;
  payload: string;
}

/**
 * Every lead held, as for any process alone on its database; wake-ups travel on a channel named after the file to
 * every other thread of this process that has the file open (`serve`'s delivery thread hears the API thread's appends
 * this way). Wake-ups of one turn of the event loop go as one message per channel, their payloads joined by commas.
 */
export class SqliteSession implements ClusterSession {
  readonly owner = newOwnerName().owner;
  readonly connected = true;
  readonly #channel: BroadcastChannel;
  readonly #channels: readonly string[];
  readonly #handlers = new Set<WakeUpHandler>();
  readonly #outgoing = new WakeUpsOfOneTurn(() => {
    for (const message of this.#outgoing.take()) this.#channel.postMessage(message satisfies WakeUpMessage);
  });

  constructor(file: string, channels: readonly string[]) {
    this.#channels = channels;
    this.#channel = new BroadcastChannel(`learnhook:${path.resolve(file)}`);
    // Listening for wake-ups never keeps the process alive.
    this.#channel.unref();
    this.#channel.onmessage = (event) => {
      const { channel, payload } = (event as { data: WakeUpMessage }).data;
      if (!this.#channels.includes(channel)) return;
      for (const handler of this.#handlers) handler(channel, payload);
    };
  }

  wake(channel: string, payload: string): void {
    this.#outgoing.add(channel, payload);
  }

  onWakeUp(handler: WakeUpHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  onLost(): () => void {
    return () => {};
  }

  async lead(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.#handlers.clear();
    this.#outgoing.take();
    this.#channel.close();
  }
}
