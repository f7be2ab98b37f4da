export default async function globalTeardown() {
  const child = globalThis.__FINANCE_TEST_PG__;
  if (!child) return;
  await new Promise((resolve) => {
    child.on('exit', resolve);
    child.kill('SIGTERM');
  });
}
