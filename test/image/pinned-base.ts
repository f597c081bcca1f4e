/** The Dockerfile's pinned base: its `ARG NODE_IMAGE=` default, and the exact Node version of that image's tag. */
export interface PinnedBase {
  readonly image: string;
  readonly nodeVersion: string;
}

export function pinnedBase(dockerfile: string): PinnedBase {
  const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
  const nodeVersion = image && /\/node:(\d+\.\d+\.\d+)-[\w-]+$/.exec(image)?.[1];
  if (!image || !nodeVersion) {
    throw new Error('the Dockerfile pins no base: expected ARG NODE_IMAGE=<registry>/node:<x.y.z>-<variant>');
  }
  return { image, nodeVersion };
}
