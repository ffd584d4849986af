// The IPAM suite on the rig's PostgreSQL (test/embedded runs it on the embedded server).
import { rigServer } from '../support/db.js';
import { ipamSuite } from './ipam.suite.js';

ipamSuite('rig PostgreSQL', rigServer);
