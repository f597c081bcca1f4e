import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * AWS cannot run here: a folder with a stand-in `aws` command (`cli`, a bash script that keeps its state under
 * `$AWS_STATE`, the folder itself) and a way to run one of the repository's scripts with it first on PATH.
 */
export function fakeAws(cli: string) {
  const dir = mkdtempSync(join(tmpdir(), 'aws-'));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'aws'), cli);
  chmodSync(join(dir, 'bin', 'aws'), 0o755);
  const run = (script: string, env: NodeJS.ProcessEnv = {}) =>
    spawnSync('bash', [script], {
      encoding: 'utf8',
      env: { ...process.env, ...env, AWS_STATE: dir, PATH: `${join(dir, 'bin')}:${process.env['PATH'] ?? ''}` },
    });
  return { dir, run };
}
