// npm run example -- <koa|express|fastify|node>: one of the adapters serving the same four routes.
const examples = ['koa', 'express', 'fastify', 'node'];
const name = process.argv[2] ?? '';
if (!examples.includes(name)) {
  console.error(`usage: npm run example -- <${examples.join('|')}>`);
  process.exit(2);
}
try {
  await import(`./${name}.js`);
} catch (error) {
  // A configuration error is one line that names the variable, as the service's own start-up failures.
  console.error(`example: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
