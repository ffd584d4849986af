// The grpcurl the rig builds from github.com/fullstorydev/grpcurl: SYNCORD_GRPCURL (from the
// environment, or else from the running rig's `rig/rig env`) names a binary that reports the
// version pinned in rig/versions.json and knows its -plaintext flag. Without it the tests skip.
import { execFile } from 'node:child_process';
import { expect } from 'chai';
import { loadConfig, versions } from '../../rig/config.js';
import { readEnv } from '../../rig/control.js';

interface Result {
  code: number;
  output: string;
}

/** Runs grpcurl; its output is stdout and stderr together (it prints -version and -help on stderr). */
function grpcurl(bin: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: stdout + stderr });
    });
  });
}

describe('rig: grpcurl', function () {
  let bin: string;

  before(function () {
    const found = process.env.SYNCORD_GRPCURL ?? readEnv(loadConfig())?.SYNCORD_GRPCURL;
    if (!found) {
      process.stderr.write(
        '[test] skipping grpcurl: SYNCORD_GRPCURL is unset and the rig is not up with it (rig/rig up)\n',
      );
      this.skip();
    }
    bin = found;
  });

  it('reports the version pinned in rig/versions.json', async () => {
    const res = await grpcurl(bin, ['-version']);
    expect(res.code, res.output).to.equal(0);
    expect(res.output.trim()).to.equal(`grpcurl ${versions.grpcurl}`);
  });

  it('-help exits 0 and describes -plaintext', async () => {
    const res = await grpcurl(bin, ['-help']);
    expect(res.code, res.output).to.equal(0);
    expect(res.output).to.include('-plaintext');
  });
});
