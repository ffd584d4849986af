// The the model service suite on the rig's PostgreSQL (test/embedded runs it on the embedded server).
import { rigServer } from '../support/db.js';
import { serviceSuite } from './service.suite.js';

serviceSuite('rig PostgreSQL', rigServer);
