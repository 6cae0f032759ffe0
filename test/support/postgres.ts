/**
 * The private PostgreSQL cluster of a test file (examples/failover/postgres-server.ts).
 *
 * A test file that needs one calls `usePostgresServer()` at the top and wraps its tests in
 * `describeWithPostgres(...)`: when the binaries are missing the file is skipped with a line saying
 * what to install, unless CLOACA_REQUIRE_SERVERS=1 (CI), where that is a failure.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { postgresBinDir, postgresInstall, PostgresServer } from '../../examples/failover/postgres-server.js';

/**
 * `describe(name, body)` when PostgreSQL is installed. Otherwise the body is skipped with a line
 * saying what to install, or, with CLOACA_REQUIRE_SERVERS=1, replaced by a failing test.
 */
export function describeWithPostgres(name: string, body: () => void): void {
  if (postgresBinDir !== undefined) {
    describe(name, body);
  } else if (process.env.CLOACA_REQUIRE_SERVERS === '1') {
    describe(name, () => {
      it('needs PostgreSQL', () => {
        throw new Error(
          `PostgreSQL (initdb, pg_ctl) is not installed and CLOACA_REQUIRE_SERVERS=1: ${postgresInstall}`,
        );
      });
    });
  } else {
    const why = `PostgreSQL (initdb, pg_ctl) is not installed; ${postgresInstall}`;
    console.warn(`skipping '${name}': ${why}`);
    describe.skip(`${name} (skipped: ${why})`, body);
  }
}

/**
 * Call once at the top of a test file: a cluster started before the file's tests and removed
 * after them; the function returns it.
 */
export function usePostgresServer(): () => PostgresServer {
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    if (postgresBinDir !== undefined) server = await PostgresServer.start();
  }, 60_000);
  afterAll(async () => {
    await server?.remove();
  });
  return () => {
    if (server === undefined) throw new Error('the PostgreSQL server of this file is not running');
    return server;
  };
}
