// The change notification and watch suite on the rig's PostgreSQL (test/embedded runs it on the embedded server).
import { rigServer } from '../support/db.js';
import { watchSuite } from './watch.suite.js';

watchSuite('rig PostgreSQL', rigServer);
