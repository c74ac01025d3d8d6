// The test body shared by the fault-run files of each store: run, print the counts, and hold the run to its promises.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { privatePostgresUnavailable } from '../support/private-postgres.ts';
import { faultRunOptions, formatReport, runFaults } from './fault-run.ts';

export function testFaultRun(store: 'sqlite' | 'postgres'): void {
  const skip = store === 'postgres' ? (privatePostgresUnavailable() ?? false) : false;
  test(`fault run on ${store}: every event mirrored in order, none lost, every re-sent batch flagged`, { skip }, async (t) => {
    const report = await runFaults(faultRunOptions(store), (line) => {
      if (process.env.LEARNHOOK_FAULTS_VERBOSE === 'true') t.diagnostic(line);
    });
    // The counts are the measurement: printed whether the run passed or not.
    process.stdout.write(`${formatReport(report)}\n`);
    assert.deepEqual(report.problems, []);
    assert.ok(report.published > 0 && report.deliveries > 0, 'the run published and delivered events');
    const receiverFaults = report.injected.status500 + report.injected.reset + report.injected.answerLost + report.injected.lateAnswer;
    assert.ok(receiverFaults + report.injected.slowBody + report.injected.refused > 0, 'the chaos receiver injected faults');
    assert.ok(
      report.injected.killServe > 0 && report.injected.killWorker > 0 && report.injected.killMirror > 0,
      'every process was killed',
    );
  });
}
