// The model layer's suites again, on the embedded PostgreSQL a new user gets by default: the same
// SQL, NOTIFY, advisory locks and concurrency as on the rig's server.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded, type EmbeddedServer } from '../../models/embedded.js';
import { ipamSuite } from '../models/ipam.suite.js';
import { serviceSuite } from '../models/service.suite.js';
import { watchSuite } from '../models/watch.suite.js';

describe('models on the embedded server', function () {
  this.timeout(120_000);
  let dir: string | undefined;
  let starting: Promise<EmbeddedServer> | undefined;

  const server = async (): Promise<string> => {
    starting ??= (async () => {
      dir = await mkdtemp(join(tmpdir(), 'syncord-embedded-models-'));
      // As root the server runs as an unprivileged user, who must be able to enter it.
      if (process.getuid?.() === 0) await chmod(dir, 0o755);
      return startEmbedded({ dataDir: join(dir, 'postgres') });
    })();
    return (await starting).url;
  };

  after(async () => {
    if (starting) await (await starting).stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  serviceSuite('embedded PostgreSQL', server);
  ipamSuite('embedded PostgreSQL', server);
  watchSuite('embedded PostgreSQL', server);
});
