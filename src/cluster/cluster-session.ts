// What one process shares with the others on its database: its name as a lease owner, liveness others can see, wake-ups, and once-per-cluster leads.
import { randomInt } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import { type RawBuilder, sql } from 'kysely';
import type { Logger } from 'pino';
import { type Dialect, sqliteFile } from '../store/database.ts';
import { PostgresSession } from './postgres-session.ts';

/** Wake-ups carried between processes: a channel name and a short text. */
export type WakeUpHandler = (channel: string, payload: string) => void;

/**
 * A process's membership of the cluster. On PostgreSQL it is one dedicated connection that holds a session-level
 * advisory lock for as long as the process lives (PostgreSQL drops it when the connection dies, `kill -9` included),
 * LISTENs for wake-ups, and holds the leads of once-per-cluster chores. On SQLite there is one process per file in
 * practice: every lead is held, and wake-ups reach the process's other threads on the file (its delivery thread).
 */
export interface ClusterSession {
  /**
   * This process's name in `webhooks.lease_owner` (`KEY@host:pid`, KEY being its advisory lock). It changes when the
   * session is lost and opened again: what the old name owned may have been taken over meanwhile.
   */
  readonly owner: string;
  /** Whether the session is up (on PostgreSQL: its connection, with its lock, is open). */
  readonly connected: boolean;
  /** Sends a wake-up to the other processes on the database (not to this one). */
  wake(channel: string, payload: string): void;
  /** Calls `handler` for every wake-up another process sends; returns a function that stops it. */
  onWakeUp(handler: WakeUpHandler): () => void;
  /** Calls `handler` when the session is lost: its lock and leads are gone, and others may take what it owned. */
  onLost(handler: () => void): () => void;
  /**
   * Whether this process holds the lead named `name` (taking it if nobody does): one process of the cluster at a
   * time runs a chore under it, and another takes it over when that process dies.
   */
  lead(name: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Wake-ups waiting for the next turn of the event loop, so that the many appends of one turn send one message per
 * channel: `send` runs once per turn that added any, and `take` hands it each channel's payloads joined by commas.
 */
export class WakeUpsOfOneTurn {
  readonly #payloads = new Map<string, Set<string>>();
  #scheduled = false;

  constructor(private readonly send: () => void) {}

  add(channel: string, payload: string): void {
    let payloads = this.#payloads.get(channel);
    if (!payloads) {
      payloads = new Set();
      this.#payloads.set(channel, payloads);
    }
    payloads.add(payload);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.send();
    });
  }

  get waiting(): boolean {
    return this.#payloads.size > 0;
  }

  /** What is waiting, one message per channel; nothing waits afterwards. */
  take(): { channel: string; payload: string }[] {
    const messages = [...this.#payloads].map(([channel, payloads]) => ({ channel, payload: [...payloads].join(',') }));
    this.#payloads.clear();
    return messages;
  }
}

/** First key of the advisory locks that say a process is alive (the second is the process's KEY). */
export const livenessLockSpace = 0x4c48_4c01;
/** First key of the advisory locks that hold once-per-cluster leads. */
export const leadLockSpace = 0x4c48_4c02;

/** A fresh owner name with a random key (1 … 2^31−1, the advisory lock's second key). */
export function newOwnerName(): { owner: string; key: number } {
  const key = randomInt(1, 2 ** 31 - 1);
  return { owner: `${key}@${hostname()}:${process.pid}`, key };
}

/**
 * SQL that is true when the process named in `column` (a lease owner) is gone: on PostgreSQL, no session of this
 * database holds its liveness lock; on SQLite never (a lease there ends only when it expires or is given back).
 */
export function ownerGone(database: { dialect: Dialect }, column: string): RawBuilder<boolean> {
  if (database.dialect !== 'postgres') return sql<boolean>`1 = 0`;
  // NOT IN over an uncorrelated subquery: PostgreSQL reads the lock table once per statement (a hashed subplan),
  // not once per row, even inside an OR.
  return sql<boolean>`split_part(${sql.ref(column)}, '@', 1) NOT IN (
    SELECT alive.objid::text FROM pg_locks AS alive
    WHERE alive.locktype = 'advisory' AND alive.granted
      AND alive.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND alive.classid = ${sql.lit(livenessLockSpace)}::oid AND alive.objsubid = 2)`;
}

/**
 * The session of a process that is alone on its database (SQLite): always up, every lead held. Opened on a file, its
 * wake-ups travel on a channel named after the file to every other thread of this process that has the file open
 * (`serve`'s delivery thread hears the API thread's appends this way), one message per channel and turn; without one
 * (a database in memory, tests) it has nobody to wake.
 */
export class LocalSession implements ClusterSession {
  readonly owner = newOwnerName().owner;
  readonly connected = true;
  readonly #channel: BroadcastChannel | undefined;
  readonly #handlers = new Set<WakeUpHandler>();
  readonly #outgoing = new WakeUpsOfOneTurn(() => {
    for (const message of this.#outgoing.take()) this.#channel?.postMessage(message);
  });

  constructor(shared?: { file: string; channels: readonly string[] }) {
    if (!shared) return;
    const channel = new BroadcastChannel(`learnhook:${path.resolve(shared.file)}`);
    // Listening for wake-ups never keeps the process alive.
    channel.unref();
    channel.onmessage = (event) => {
      const message = (event as { data: { channel: string; payload: string } }).data;
      if (!shared.channels.includes(message.channel)) return;
      for (const handler of this.#handlers) handler(message.channel, message.payload);
    };
    this.#channel = channel;
  }

  wake(channel: string, payload: string): void {
    if (this.#channel) this.#outgoing.add(channel, payload);
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
    this.#channel?.close();
  }
}

export interface SessionOptions {
  /** The database URL with its password (the session opens its own connection). */
  url: string;
  logger: Logger;
  /** Channels whose wake-ups this process wants. */
  channels: readonly string[];
}

/** Opens this process's session: a dedicated PostgreSQL connection, or one over the threads of this process on SQLite. */
export async function openClusterSession(database: { dialect: Dialect }, options: SessionOptions): Promise<ClusterSession> {
  if (database.dialect !== 'postgres') {
    const file = sqliteFile(options.url);
    return new LocalSession(file === ':memory:' ? undefined : { file, channels: options.channels });
  }
  const session = new PostgresSession(options);
  await session.open();
  return session;
}
