// A process's cluster session on PostgreSQL: one dedicated connection holding its liveness lock and leads, listening for wake-ups, reopened when lost.
import pg from 'pg';
import type { Logger } from 'pino';
import {
  type ClusterSession,
  leadLockSpace,
  livenessLockSpace,
  newOwnerName,
  type WakeUpHandler,
  WakeUpsOfOneTurn,
} from './cluster-session.ts';

/** The one channel every learnhook process LISTENs on; a wake-up's payload names its own channel. */
const listenChannel = 'learnhook';
/** NOTIFY payloads are limited to 8000 bytes; wake-ups are far shorter, longer ones are cut to a plain wake-up. */
const maxPayloadBytes = 7000;

interface WakeUpMessage {
  /** The sending process's owner name, so a process ignores its own wake-ups. */
  from: string;
  channel: string;
  payload: string;
}

export class PostgresSession implements ClusterSession {
  #owner: string;
  #key: number;
  #client: pg.Client | null = null;
  #closed = false;
  #reopenDelayMs = 250;
  #reopenTimer: NodeJS.Timeout | undefined;
  readonly #leads = new Set<string>();
  readonly #wakeUpHandlers = new Set<WakeUpHandler>();
  readonly #lostHandlers = new Set<() => void>();
  /** Wake-ups waiting for the next turn of the event loop: many appends in one turn send one NOTIFY per channel. */
  readonly #outgoing = new WakeUpsOfOneTurn(() => this.#send());
  #sending = false;

  constructor(private readonly options: { url: string; logger: Logger; channels: readonly string[] }) {
    ({ owner: this.#owner, key: this.#key } = newOwnerName());
  }

  get owner(): string {
    return this.#owner;
  }

  get connected(): boolean {
    return this.#client !== null;
  }

  /** Connects, takes the liveness lock and LISTENs; throws when PostgreSQL cannot be reached. */
  async open(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.url });
    // Errors reach 'end' too; without a listener an 'error' event would crash the process.
    client.on('error', () => {});
    await client.connect();
    try {
      // A key another live process holds (1 in 2^31) is drawn again.
      for (;;) {
        const taken = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [
          livenessLockSpace,
          this.#key,
        ]);
        if (taken.rows[0]?.locked) break;
        ({ owner: this.#owner, key: this.#key } = newOwnerName());
      }
      await client.query(`LISTEN ${listenChannel}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    client.on('notification', (message) => this.#receive(message.payload));
    client.on('end', () => this.#lost(client));
    this.#client = client;
    this.#reopenDelayMs = 250;
  }

  wake(channel: string, payload: string): void {
    this.#outgoing.add(channel, payload);
  }

  onWakeUp(handler: WakeUpHandler): () => void {
    this.#wakeUpHandlers.add(handler);
    return () => this.#wakeUpHandlers.delete(handler);
  }

  onLost(handler: () => void): () => void {
    this.#lostHandlers.add(handler);
    return () => this.#lostHandlers.delete(handler);
  }

  async lead(name: string): Promise<boolean> {
    if (this.#leads.has(name)) return this.#client !== null;
    const client = this.#client;
    if (!client) return false;
    const taken = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [leadLockSpace, name]);
    if (!taken.rows[0]?.locked || client !== this.#client) return false;
    this.#leads.add(name);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reopenTimer);
    const client = this.#client;
    this.#client = null;
    this.#leads.clear();
    // Closing the connection gives back the liveness lock and every lead at once.
    await client?.end().catch(() => {});
  }

  /** Sends what is waiting; wake-ups that come while a send is under way wait for it and go together next. */
  #send(): void {
    const client = this.#client;
    if (this.#sending || !client || !this.#outgoing.waiting) {
      if (!client) this.#outgoing.take();
      return;
    }
    const messages = this.#outgoing.take().map(({ channel, payload }) => {
      const message: WakeUpMessage = { from: this.#owner, channel, payload: Buffer.byteLength(payload) > maxPayloadBytes ? '' : payload };
      return JSON.stringify(message);
    });
    this.#sending = true;
    const calls = messages.map((_, index) => `pg_notify('${listenChannel}', $${index + 1})`).join(', ');
    client
      .query(`SELECT ${calls}`, messages)
      // A wake-up that cannot be sent is not lost work: the others find it at their next poll.
      .catch(() => {})
      .finally(() => {
        this.#sending = false;
        this.#send();
      });
  }

  #receive(text: string | undefined): void {
    let message: WakeUpMessage;
    try {
      message = JSON.parse(text ?? '') as WakeUpMessage;
    } catch {
      return;
    }
    if (message.from === this.#owner || !this.options.channels.includes(message.channel)) return;
    for (const handler of this.#wakeUpHandlers) handler(message.channel, message.payload);
  }

  #lost(client: pg.Client): void {
    if (client !== this.#client) return;
    this.#client = null;
    this.#leads.clear();
    // A new name: what the old one owned may be taken over by others before this process is back.
    ({ owner: this.#owner, key: this.#key } = newOwnerName());
    if (this.#closed) return;
    this.options.logger.warn(
      'lost the connection that tells other processes this one is alive; its webhooks may be taken over, and it reconnects',
    );
    for (const handler of this.#lostHandlers) handler();
    this.#reopenLater();
  }

  #reopenLater(): void {
    const delay = this.#reopenDelayMs;
    this.#reopenDelayMs = Math.min(5000, delay * 2);
    this.#reopenTimer = setTimeout(() => {
      if (this.#closed) return;
      this.open().then(
        () => {
          this.options.logger.info('the cluster connection is back: wake-ups and takeover checks work again');
          // Wake-ups sent while it was away were missed: every channel wakes once.
          for (const channel of this.options.channels) for (const handler of this.#wakeUpHandlers) handler(channel, '');
        },
        () => this.#reopenLater(),
      );
    }, delay);
  }
}
