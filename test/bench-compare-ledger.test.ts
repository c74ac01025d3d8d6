// The comparison bench's accounting (bench/compare): order violations, duplicates, losses and latency per account,
// and events that carry their trace in eventInfo while staying valid catalog events of the size.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ledger, percentile } from '../bench/compare/ledger.ts';
import { deadEndpointCosts, type RunLine } from '../bench/compare/report.ts';
import { benchEvent, eventBytes, traceOf } from '../bench/compare/workload.ts';
import { validateEvent } from '../src/catalog/index.ts';

describe('bench ledger', () => {
  test('counts an event that arrives after a later one of its account as one order violation', () => {
    const ledger = new Ledger({ 1: 4, 2: 2 });
    for (const n of [0, 2, 1, 3]) ledger.record({ account: 1, n, publishedAt: 0 }, 10);
    // Another account's order is its own.
    for (const n of [1, 0]) ledger.record({ account: 2, n, publishedAt: 0 }, 10);
    const summary = ledger.summary();
    assert.equal(summary.orderViolations, 2);
    assert.equal(summary.received, 6);
    assert.equal(summary.lost, 0);
    assert.equal(ledger.complete, true);
  });

  test('counts repeats as duplicates, missing events as lost, foreign ones as unexpected', () => {
    const ledger = new Ledger({ 1: 3 });
    ledger.record({ account: 1, n: 0, publishedAt: 0 }, 1);
    ledger.record({ account: 1, n: 0, publishedAt: 0 }, 2);
    ledger.record({ account: 1, n: 2, publishedAt: 0 }, 3);
    ledger.record({ account: 9, n: 0, publishedAt: 0 }, 3);
    ledger.record({ account: 1, n: 7, publishedAt: 0 }, 3);
    const summary = ledger.summary();
    assert.equal(summary.duplicates, 1);
    assert.equal(summary.received, 2);
    assert.equal(summary.lost, 1);
    assert.equal(summary.unexpected, 2);
    assert.equal(summary.orderViolations, 0);
    assert.equal(ledger.complete, false);
  });

  test('latency runs from publish to receipt, with nearest-rank percentiles', () => {
    const ledger = new Ledger({ 1: 100 });
    for (let n = 0; n < 100; n++) ledger.record({ account: 1, n, publishedAt: 1000 }, 1000 + n + 1);
    const { latencyMs, firstPublishedAt, lastReceivedAt } = ledger.summary();
    assert.deepEqual(latencyMs, { p50: 50, p99: 99, max: 100 });
    assert.equal(firstPublishedAt, 1000);
    assert.equal(lastReceivedAt, 1100);
    assert.equal(percentile([], 0.5), Number.NaN);
  });

  test('a bench event is a valid catalog event of about the issue size whose eventInfo gives its trace back', () => {
    const event = benchEvent(42, 7, 1_700_000_000_123.456);
    assert.deepEqual(validateEvent(event), []);
    assert.ok(Math.abs(JSON.stringify(event).length - eventBytes) <= 2, `size ${JSON.stringify(event).length}`);
    assert.deepEqual(traceOf(event.eventInfo), { account: 42, n: 7, publishedAt: 1_700_000_000_123.456 });
    assert.equal(traceOf('sample-course_enrollment'), undefined);
  });

  test("the dead endpoint's cost pairs each dead run with its own run's healthy one, per healthy account", () => {
    const line = (scenario: string, run: number, eventsPerSecond: number, healthyAccounts: number): RunLine => ({
      scenario,
      contender: 'c',
      label: 'c',
      run,
      eventsPerSecond,
      healthyAccounts,
      accounts: 100,
    });
    const lines = [
      line('throughput', 1, 10_000, 100),
      line('dead', 1, 9_900, 99),
      line('throughput', 2, 5_000, 100),
      line('dead', 2, 4_455, 99),
      // A run without its pair is left out, and another contender's runs are not this one's.
      line('dead', 3, 1, 99),
      { ...line('throughput', 3, 1_000, 100), contender: 'other' },
    ];
    const costs = deadEndpointCosts(lines, 'c');
    assert.equal(costs.length, 2);
    // 9,900 events/s over 99 accounts is what 10,000 over 100 gives each account: no cost.
    assert.ok(Math.abs(costs[0] ?? Number.NaN) < 1e-9);
    // 4,455 over 99 is 45 per account against 50: 10 %.
    assert.ok(Math.abs((costs[1] ?? Number.NaN) - 0.1) < 1e-9);
  });
});
