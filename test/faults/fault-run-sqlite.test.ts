// The fault run on SQLite: chaos receiver, kill -9 of serve, worker and mirror (docs/faults.md).
import { testFaultRun } from './check-fault-run.ts';

testFaultRun('sqlite');
