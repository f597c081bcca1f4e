// podman as these machines need it (docs/development.md, "The image test"). Debian's podman runs as root without a
// Docker daemon; three of its defaults fail here and are overridden in a containers.conf of the test's own, passed
// through CONTAINERS_CONF so that nothing on the machine is reconfigured:
// - crun refuses the hybrid cgroup layout ("cgroups in hybrid mode not supported"): runc instead;
// - runc needs the cgroupfs cgroup manager;
// - the default ulimits cannot be raised here ("setrlimit RLIMIT_NOFILE: Operation not permitted"): none.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Child } from '../support/processes.js';
import type { HealthCheck } from './task-definition.js';

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Podman {
  /** podman with these arguments; rejects, with its stderr, unless it exits 0. */
  (args: readonly string[], options?: RunOptions): Promise<string>;
  /** podman with these arguments, whatever its exit code. */
  run(args: readonly string[], options?: RunOptions): Promise<Run>;
  /** podman with these arguments as a child process: its stdout piped to the caller, its stderr this process's. */
  spawn(args: readonly string[]): Child;
}

export interface RunOptions {
  /** Written to podman's stdin. */
  readonly input?: string;
  /** Also copy podman's output to this process's, as it comes (a build's progress). */
  readonly echo?: boolean;
}

const containersConf = `[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
`;

/** A podman whose settings live in `dir` (written there), so that every call of the test uses the same ones. */
export function createPodman(dir: string): Podman {
  mkdirSync(dir, { recursive: true });
  const conf = resolve(dir, 'containers.conf');
  writeFileSync(conf, containersConf);
  const env = { ...process.env, CONTAINERS_CONF: conf };

  const run: Podman['run'] = (args, options = {}) =>
    new Promise((done, reject) => {
      const child = spawn('podman', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (options.echo) process.stdout.write(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (options.echo) process.stderr.write(chunk);
      });
      child.once('error', reject);
      child.once('close', (code) => done({ code, stdout, stderr }));
      child.stdin.end(options.input ?? '');
    });

  const podman = (async (args, options = {}) => {
    const result = await run(args, options);
    if (result.code !== 0) {
      throw new Error(`podman ${args.join(' ')} exited ${String(result.code)}:\n${result.stderr.trim()}`);
    }
    return result.stdout;
  }) as Podman;
  podman.run = run;
  podman.spawn = (args) => spawn('podman', args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return podman;
}

/**
 * podman's --health-cmd for an ECS health check command. A JSON array that starts with "CMD", podman 4.3 splits as
 * text on whitespace (measured: ["CMD","node","--eval","a b"] became ["[\"CMD\",\"node\",\"--eval\",\"a", "b\"]"]);
 * without the "CMD" it takes the array as the exec form, element by element. The image test reads the container's
 * health check back and requires the template's command, so such a quirk cannot pass unseen.
 */
export function healthCheckArgs(check: HealthCheck): string[] {
  const [kind, ...rest] = check.command;
  if (kind !== 'CMD' && kind !== 'CMD-SHELL') {
    throw new Error(`a health check command starts with CMD or CMD-SHELL, not ${String(kind)}`);
  }
  return [
    '--health-cmd',
    JSON.stringify(kind === 'CMD' ? rest : check.command),
    // No timer (it would need systemd): the test runs the check itself, when the service is up.
    '--health-interval=disable',
    `--health-timeout=${check.timeoutSeconds}s`,
    `--health-retries=${check.retries}`,
    `--health-start-period=${check.startPeriodSeconds}s`,
  ];
}
