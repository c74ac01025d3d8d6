// Group commit: writes that arrive while earlier groups commit share one transaction, so a busy store pays one commit (one flush) per group, not per write.
import { type Kysely, sql, type Transaction } from 'kysely';
import { isTransientDatabaseError } from './transient-errors.ts';

/** One caller's part of a group: its statements, run in the group's transaction after the writes queued before it. */
export type GroupWrite<Schema, State, T> = (trx: Transaction<Schema>, state: State) => Promise<T>;

/**
 * What a kind of write does once per group rather than once per write. Each hook runs inside the group's transaction.
 */
export interface GroupFrame<Schema, State> {
  /**
   * Before the writes: e.g. locks the rows the writes' keys name. `keys` come sorted and without repeats, so groups of
   * different processes lock in one order and never deadlock. Called again (locks already held) after a write failed.
   * `notes`: those the group's writes came with (`GroupWriteOptions.note`), in the writes' order.
   */
  open(trx: Transaction<Schema>, keys: readonly number[], notes: readonly unknown[]): Promise<State>;
  /** After the writes, before commit: what they staged in `state`, written for all of them at once (multi-row statements). */
  close?(trx: Transaction<Schema>, state: State): Promise<void>;
  /** After commit, with the group's state (e.g. to signal what was appended). */
  committed?(state: State): void;
}

export interface GroupCommitOptions<Schema, State> {
  /** Groups committing at once: one on SQLite (one writer); more on PostgreSQL, so writes arriving during a commit need not wait for its flush. */
  groupsInFlight: number;
  /** The most writes in one group: bounds how long a group holds its locks. */
  maxGroupSize?: number;
  /**
   * Milliseconds a group may wait for company after a large group committed, when fewer than half as many writes are
   * queued: the callers just answered are likely about to write again. 0 (the default): a group starts at once.
   */
  lingerMs?: number;
  frame?: GroupFrame<Schema, State>;
}

/** How a write takes part in its group. */
export interface GroupWriteOptions {
  /**
   * The write issues no statements: it reads the group's state and stages rows the frame's `close` writes. A group
   * takes its savepoint only before its first write that may issue statements, so a group of such writes alone costs
   * one round trip less; when one fails, there is nothing to roll back and the state is opened again.
   */
  stagesOnly?: boolean;
  /**
   * The write is one statement, atomic by itself, and stages nothing for the frame: in a group of its own it runs
   * outside a transaction (and outside the frame, with no state), one round trip instead of three (BEGIN, the write,
   * COMMIT). It commits as durably as any group.
   */
  oneStatement?: boolean;
  /** What the frame's `open` may learn of this write in advance (`notes`: e.g. what it will read, to read it with the group's). */
  note?: unknown;
}

interface Pending<Schema, State> {
  write: GroupWrite<Schema, State, unknown>;
  keys: readonly number[];
  stagesOnly: boolean;
  oneStatement: boolean;
  note: unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** The savepoint a group rolls back to when one of its writes fails: just after `open`, with its locks still held. */
const writesStart = sql`savepoint group_writes`;
const rollBackWrites = sql`rollback to savepoint group_writes`;

/** A write's failure is its own (a refused rule, a constraint) unless it says nothing about the write or broke the transaction. */
function isOwnFailure(error: unknown): boolean {
  // 25P02: PostgreSQL refuses every statement after an earlier one failed (a write that caught a database error).
  return !isTransientDatabaseError(error) && (error as { code?: unknown } | null)?.code !== '25P02';
}

/**
 * A write queue: writes that arrive while `groupsInFlight` groups are committing form the next group, in arrival
 * order. A caller's promise settles only after its group has committed, so nothing is answered before it is durable.
 * A write that throws fails alone and changes nothing: the group rolls back to a savepoint taken after `open` (so its
 * locks stay held and nothing can slip in between) and runs the others again without it. When the group itself fails
 * (opening, closing, committing, a lost connection, a deadlock), each write is tried again in a group of its own.
 */
export class GroupCommit<Schema, State = undefined> {
  #queue: Pending<Schema, State>[] = [];
  #inFlight = 0;
  #scheduled = false;
  /** Keys of the groups in flight. */
  readonly #busyKeys = new Set<number>();
  readonly #groupsInFlight: number;
  readonly #maxGroupSize: number;
  readonly #frame: GroupFrame<Schema, State> | undefined;
  readonly #lingerMs: number;
  /** While a group waits for company: how many queued writes end the wait, and the timer that ends it anyway. */
  #lingering: { enough: number; timer: NodeJS.Timeout } | undefined;

  constructor(
    private readonly db: Kysely<Schema>,
    options: GroupCommitOptions<Schema, State>,
  ) {
    this.#groupsInFlight = options.groupsInFlight;
    this.#maxGroupSize = options.maxGroupSize ?? 500;
    this.#frame = options.frame;
    this.#lingerMs = options.lingerMs ?? 0;
  }

  /** Runs `write` in the next group's transaction; resolves with its result once that transaction has committed. `keys` are handed to the frame's `open`. */
  run<T>(write: GroupWrite<Schema, State, T>, keys: readonly number[] = [], options: GroupWriteOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({
        write,
        keys,
        stagesOnly: options.stagesOnly ?? false,
        oneStatement: options.oneStatement ?? false,
        note: options.note,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      if (this.#lingering && this.#queue.length >= this.#lingering.enough) this.#stopLingering();
      else this.#schedule();
    });
  }

  /** Takes the next group in the next turn of the event loop, unless a group waits or may not start yet. */
  #schedule(): void {
    if (this.#lingering || this.#scheduled || this.#inFlight >= this.#groupsInFlight) return;
    this.#scheduled = true;
    // Requests that arrive in the same turn of the event loop join one group rather than each opening its own.
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (!this.#lingering && this.#queue.length > 0 && this.#inFlight < this.#groupsInFlight) {
      const group = this.#takeGroup();
      if (group.length === 0) return;
      const keys = new Set(group.flatMap((pending) => pending.keys));
      for (const key of keys) this.#busyKeys.add(key);
      this.#inFlight++;
      void this.#commit(group).finally(() => {
        for (const key of keys) this.#busyKeys.delete(key);
        this.#inFlight--;
        this.#lingerAfter(group.length);
        this.#pump();
      });
    }
  }

  /**
   * After a group of `size` writes committed, with fewer than half as many queued: waits up to `lingerMs` for half as
   * many, so that one early write does not start a group alone and the writes of the callers just answered wait for
   * it. A group of fewer than 4 never waits, so a write at a calm moment commits at once.
   */
  #lingerAfter(size: number): void {
    const enough = Math.ceil(size / 2);
    if (this.#lingerMs <= 0 || size < 4 || this.#lingering || this.#queue.length >= enough) return;
    this.#lingering = { enough, timer: setTimeout(() => this.#stopLingering(), this.#lingerMs) };
  }

  #stopLingering(): void {
    if (!this.#lingering) return;
    clearTimeout(this.#lingering.timer);
    this.#lingering = undefined;
    this.#schedule();
  }

  /**
   * The next group: queued writes in order, except those whose keys a group in flight holds. Those would only wait
   * for its locks while holding a connection; left queued, they join the group that starts when it has committed
   * (one hot account then gets one large group per commit instead of several small ones in a row).
   */
  #takeGroup(): Pending<Schema, State>[] {
    if (this.#busyKeys.size === 0) return this.#queue.splice(0, this.#maxGroupSize);
    const group: Pending<Schema, State>[] = [];
    const waiting: Pending<Schema, State>[] = [];
    for (const pending of this.#queue) {
      if (group.length < this.#maxGroupSize && !pending.keys.some((key) => this.#busyKeys.has(key))) group.push(pending);
      else waiting.push(pending);
    }
    this.#queue = waiting;
    return group;
  }

  async #open(trx: Transaction<Schema>, group: readonly Pending<Schema, State>[]): Promise<State> {
    if (!this.#frame) return undefined as State;
    const keys = [...new Set(group.flatMap((pending) => pending.keys))].sort((a, b) => a - b);
    const notes = group.flatMap((pending) => (pending.note === undefined ? [] : [pending.note]));
    return this.#frame.open(trx, keys, notes);
  }

  async #commit(group: Pending<Schema, State>[]): Promise<void> {
    const [alone] = group;
    if (group.length === 1 && alone?.oneStatement) {
      // A Kysely that is not in a transaction stands in for one: the write's one statement commits by itself.
      return alone.write(this.db as Transaction<Schema>, undefined as State).then(alone.resolve, alone.reject);
    }
    let pending = group;
    let outcome: { results: unknown[]; state: State };
    try {
      outcome = await this.db.transaction().execute(async (trx) => {
        let state = await this.#open(trx, pending);
        let savepoint = false;
        for (;;) {
          let failed: number | undefined;
          try {
            const results: unknown[] = [];
            for (const [index, item] of pending.entries()) {
              failed = index;
              if (!savepoint && !item.stagesOnly && pending.length > 1) {
                failed = undefined;
                await writesStart.execute(trx);
                savepoint = true;
                failed = index;
              }
              results.push(await item.write(trx, state));
            }
            failed = undefined;
            await this.#frame?.close?.(trx, state);
            return { results, state };
          } catch (error) {
            const culprit = failed === undefined ? undefined : pending[failed];
            if (!culprit || pending.length === 1 || !isOwnFailure(error)) throw error;
            culprit.reject(error);
            pending = pending.filter((item) => item !== culprit);
            // Before the savepoint only writes that issue no statements ran: nothing to roll back.
            if (savepoint) await rollBackWrites.execute(trx);
            state = await this.#open(trx, pending);
          }
        }
      });
    } catch (error) {
      const [only] = pending;
      if (pending.length === 1 && only) return only.reject(error);
      // Nothing of the group was committed: each write is tried alone, so a failure fails only its own caller.
      for (const item of pending) await this.#commit([item]);
      return;
    }
    this.#frame?.committed?.(outcome.state);
    for (const [index, item] of pending.entries()) item.resolve(outcome.results[index]);
  }
}

interface StagedItem<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for writes that are data, not statements: items that arrive while `groupsInFlight` groups are being
 * written form the next group, in arrival order, and `write` stores a whole group at once and returns one result per
 * item. It runs outside any transaction: a group written in one statement is atomic and durable by itself and needs
 * no BEGIN and COMMIT (two round trips fewer on PostgreSQL); `write` opens a transaction when a group needs more than
 * one statement. A caller's promise settles only after its group's `write` has resolved. When `write` throws, each
 * item of the group is written again alone, so a failure fails only its own caller; `write` must therefore leave
 * nothing of a group it throws on, or leave what a second write of the same items recognises.
 */
export class StagedGroups<Item, Result> {
  #queue: StagedItem<Item, Result>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(
    private readonly options: {
      groupsInFlight: number;
      maxGroupSize: number;
      write: (items: readonly Item[]) => Promise<readonly Result[]>;
    },
  ) {}

  /** Resolves with the item's result once its group has been written, never before. */
  add(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#scheduled || this.#inFlight >= this.options.groupsInFlight) return;
      this.#scheduled = true;
      // Items that arrive in the same turn of the event loop join one group rather than each starting its own.
      setImmediate(() => {
        this.#scheduled = false;
        this.#pump();
      });
    });
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.options.groupsInFlight) {
      const group = this.#queue.splice(0, this.options.maxGroupSize);
      this.#inFlight++;
      void this.#write(group).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #write(group: StagedItem<Item, Result>[]): Promise<void> {
    let results: readonly Result[];
    try {
      results = await this.options.write(group.map((pending) => pending.item));
    } catch (error) {
      const [only] = group;
      if (group.length === 1 && only) return only.reject(error);
      for (const pending of group) await this.#write([pending]);
      return;
    }
    for (const [index, pending] of group.entries()) pending.resolve(results[index] as Result);
  }
}
