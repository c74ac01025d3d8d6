// The notifications end to end on sqlite (test/support/notify-e2e-scenario.ts): the docs' rules, a real mirror process, kill -9.
import { describeNotifyEndToEnd } from './support/notify-e2e-scenario.ts';

await describeNotifyEndToEnd('sqlite');
