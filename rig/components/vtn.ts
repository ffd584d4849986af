// The reference VTN server (backends/vtn/server.ts, `syncord vtn-server`) as a daemon of its own,
// with its state in the run directory so that a restart keeps it.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { projectDir } from '../config.js';
import type { Component, RigContext } from '../component.js';

export const vtnAddress = (ctx: RigContext) => `127.0.0.1:${String(ctx.config.ports.vtn)}`;

/** Whether the server answers the standard gRPC health check as SERVING. */
function healthy(address: string): Promise<boolean> {
  const Client = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Client(address, grpc.credentials.createInsecure());
  return new Promise<boolean>((resolve) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (arg: { service: string }) => healthService.Check!.requestSerialize(arg),
      (b: Buffer) => healthService.Check!.responseDeserialize(b) as { status?: string },
      { service: '' },
      { deadline: new Date(Date.now() + 2000) },
      (err, res) => {
        resolve(!err && res?.status === 'SERVING');
      },
    );
  }).finally(() => {
    client.close();
  });
}

export const vtn: Component = {
  name: 'vtn',
  readyTimeoutMs: 30_000,
  port: (ctx) => ctx.config.ports.vtn,
  prepare(ctx) {
    const dir = join(ctx.config.runDir, 'vtn');
    mkdirSync(dir, { recursive: true });
    return Promise.resolve({
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        join(projectDir, 'cli', 'syncord.ts'),
        'vtn-server',
        '--listen',
        vtnAddress(ctx),
        '--state',
        join(dir, 'state.json'),
      ],
      cwd: projectDir,
      logFile: ctx.logFile('vtn'),
    });
  },
  ready: (ctx) => healthy(vtnAddress(ctx)),
  version() {
    const pkg = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8')) as {
      version: string;
    };
    return Promise.resolve(`syncord ${pkg.version}`);
  },
};
