// The fault run on a private PostgreSQL cluster: chaos receiver, kill -9 of serve, worker and mirror, and a restart of
// the cluster itself (docs/faults.md).
import { testFaultRun } from './check-fault-run.ts';

testFaultRun('postgres');
