// What the image's /app may hold, checked on its files (the image mounted, or any directory laid out like it):
// production dependencies and compiled code, and nothing of development. test/image-contents.test.ts runs these
// checks against broken trees, so that each is known to fail when it should.
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

export interface Lockfile {
  readonly packages: Record<
    string,
    { readonly dev?: boolean; readonly link?: boolean; readonly dependencies?: Record<string, string> }
  >;
}

export interface Manifest {
  readonly dependencies: Record<string, string>;
  readonly devDependencies: Record<string, string>;
}

/** A file or directory whose name marks it as a test: *.test.*, *.spec.*, or a test/, tests/ or __tests__/ folder. */
const testPath = /(^|\/)(test|tests|__tests__)(\/|$)|\.(test|spec)\.[cm]?[jt]sx?$/;

/** Every path under `dir` (relative, with `/`), depth first, without following symbolic links. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    const rel = relative(base, path).split(sep).join('/');
    return entry.isDirectory() ? [rel, ...walk(path, base)] : [rel];
  });
}

const present = (path: string) => {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
};

/**
 * What `app` (the image's /app) holds that it should not, each as a sentence; none when it is right:
 * - a package the lockfile marks dev-only, or a workspace package only the root's devDependencies name;
 * - a production dependency missing (which also keeps the dev check from passing on an empty or wrong directory);
 * - a `.git` anywhere;
 * - outside node_modules (the code this repository builds; third-party packages ship what they ship): a test file,
 *   or a source map naming a source that is neither shipped beside it nor embedded in it (sourcesContent).
 */
export function imageContentProblems(app: string, lockfile: Lockfile, manifest: Manifest): string[] {
  const problems: string[] = [];
  if (!existsSync(join(app, 'node_modules'))) return [`has no node_modules in ${app}`];
  for (const name of Object.keys(manifest.dependencies)) {
    if (!present(join(app, 'node_modules', name))) problems.push(`lacks the production dependency ${name}`);
  }
  // The lockfile marks dev-only packages; a workspace link it never marks, so one of the root's devDependencies that
  // links a workspace no production package requires (the test kit) is dev-only too.
  const required = new Set(
    Object.entries(lockfile.packages)
      .filter(([, entry]) => entry.dev !== true)
      .flatMap(([, entry]) => Object.keys(entry.dependencies ?? {})),
  );
  const devOnly = new Set([
    ...Object.entries(lockfile.packages)
      .filter(([path, entry]) => path !== '' && entry.dev === true)
      .map(([path]) => path),
    ...Object.keys(manifest.devDependencies)
      .filter((name) => lockfile.packages[`node_modules/${name}`]?.link === true && !required.has(name))
      .map((name) => `node_modules/${name}`),
  ]);
  for (const path of [...devOnly].sort()) {
    if (present(join(app, path))) problems.push(`holds the dev dependency ${path}`);
  }

  for (const path of walk(app)) {
    if (path.split('/').includes('.git')) {
      if (path.endsWith('.git')) problems.push(`holds ${path}`);
      continue;
    }
    if (path === 'node_modules' || path.startsWith('node_modules/')) continue;
    if (testPath.test(path) && !testPath.test(dirname(path))) problems.push(`holds the test file ${path}`);
    if (path.endsWith('.map')) problems.push(...sourceMapProblems(app, path));
  }
  return problems;
}

function sourceMapProblems(app: string, path: string): string[] {
  let map: { sources?: unknown; sourcesContent?: unknown; sourceRoot?: unknown };
  try {
    map = JSON.parse(readFileSync(join(app, path), 'utf8')) as typeof map;
  } catch {
    return [`holds ${path}, which is no source map`];
  }
  const sources = Array.isArray(map.sources) ? (map.sources as unknown[]) : [];
  const contents = Array.isArray(map.sourcesContent) ? (map.sourcesContent as unknown[]) : [];
  const root = typeof map.sourceRoot === 'string' ? map.sourceRoot : '';
  return sources.flatMap((source, i) => {
    if (typeof contents[i] === 'string') return [];
    // An absolute source is a path in the image, whose root is the directory above /app.
    const file = String(source).startsWith('/')
      ? join(dirname(app), String(source))
      : resolve(app, dirname(path), root, String(source));
    return existsSync(file) ? [] : [`holds the source map ${path}, whose source ${String(source)} is not shipped`];
  });
}
