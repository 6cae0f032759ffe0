/**
 * A standby taking over from an owner killed with SIGKILL, on a PostgreSQL checkpoint: starts a
 * private PostgreSQL cluster, an owner and a standby of one id (two processes), pushes orders to
 * the owner, kills it part-way, and pushes the rest to the standby once it owns the id, as a
 * producer retrying what was not acknowledged would. Prints the takeover time and the counts:
 * every order persisted is booked at least once, none is lost.
 *
 *     npm run example:failover -- [--orders 6000] [--kill-at 0.5]
 *
 * Needs PostgreSQL's server programs (`initdb`, `pg_ctl`); it says so and exits with 1 without them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { postgresBinDir, postgresInstall, PostgresServer } from './postgres-server.js';
import type { FailoverCommand, FailoverReport } from './runtime.js';

const { values } = parseArgs({
  options: { orders: { type: 'string', default: '6000' }, 'kill-at': { type: 'string', default: '0.5' } },
});
const orders = Number(values.orders);
const killAt = Number(values['kill-at']);
if (!(Number.isInteger(orders) && orders >= 100) || !(killAt > 0 && killAt < 1)) {
  console.error('usage: npm run example:failover -- [--orders N>=100] [--kill-at 0..1]');
  process.exit(2);
}
if (postgresBinDir === undefined) {
  console.error(`PostgreSQL (initdb, pg_ctl) is not installed here: ${postgresInstall}`);
  process.exit(1);
}

const kBatch = 100;
const server = await PostgresServer.start();
console.log(`started a private PostgreSQL cluster on port ${server.port}`);
const members: Member[] = [];
// Stopped early (Ctrl-C, SIGTERM): the runtimes and the cluster go too, rather than run on.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const member of members) member.child.kill('SIGKILL');
    void server.remove().finally(() => process.exit(128 + constants.signals[signal]));
  });
}

/** One runtime process: what it booked, and its reports awaitable by kind. */
class Member {
  readonly booked: number[] = [];
  readonly child: ChildProcess;
  #waiters: Array<{ match: (r: FailoverReport) => boolean; resolve: (r: FailoverReport) => void }> = [];

  constructor(role: 'owner' | 'standby') {
    this.child = fork(new URL('./runtime.js', import.meta.url), [server.url, role], { stdio: 'inherit' });
    members.push(this);
    this.child.on('message', (report: FailoverReport) => {
      if (report.type === 'booked') this.booked.push(report.order);
      this.#waiters = this.#waiters.filter((w) => !(w.match(report) && (w.resolve(report), true)));
    });
  }

  next<T extends FailoverReport['type']>(type: T): Promise<Extract<FailoverReport, { type: T }>> {
    return new Promise((resolve) =>
      this.#waiters.push({ match: (r) => r.type === type, resolve: resolve as (r: FailoverReport) => void }),
    );
  }

  send(command: FailoverCommand): void {
    this.child.send(command);
  }

  /** Pushes orders [from, to) in batches; resolves with the last one persisted. */
  async push(from: number, to: number): Promise<number> {
    let last = from - 1;
    for (let start = from; start < to; start += kBatch) {
      const batch = Array.from({ length: Math.min(kBatch, to - start) }, (_, i) => start + i);
      const persisted = this.next('persisted');
      this.send({ type: 'push', orders: batch });
      last = (await persisted).last;
    }
    return last;
  }
}

try {
  const owner = new Member('owner');
  await owner.next('owned');
  const standby = new Member('standby');
  const standbyOwned = standby.next('owned');
  await standby.next('standby');
  console.log("owner of 'orders-1' started; a standby waits for the id");

  const persisted = await owner.push(0, Math.floor(orders * killAt));
  const killedAt = Date.now();
  owner.child.kill('SIGKILL');
  // What it told before it died has all arrived once its channel is closed.
  await new Promise((resolve) => owner.child.on('close', resolve));
  const bookedBefore = new Set(owner.booked);
  console.log(`killed the owner (SIGKILL) with ${persisted + 1} orders persisted, ${bookedBefore.size} of them booked`);

  const firstBooking = standby.next('booked');
  const { at } = await standbyOwned;
  // Everything not acknowledged as persisted by the owner is pushed again, to its successor. Its
  // first booking is of the owner's backlog, or of these when the owner had booked all it took.
  const pushed = standby.push(persisted + 1, orders);
  await firstBooking;
  const firstBookingMs = Date.now() - killedAt;
  console.log(`standby owned the id ${at - killedAt} ms after the kill, and was booking ${firstBookingMs} ms after it`);
  await pushed;
  while (standby.booked.at(-1) !== orders - 1) await standby.next('booked');
  standby.send({ type: 'stop' });
  await new Promise((resolve) => standby.child.on('exit', resolve));

  const after = new Set(standby.booked);
  const lost = Array.from({ length: orders }, (_, n) => n).filter((n) => !bookedBefore.has(n) && !after.has(n));
  const twice = [...after].filter((n) => bookedBefore.has(n)).length;
  console.log(
    `pushed: ${orders}, booked before the kill: ${bookedBefore.size}, booked after: ${after.size} (${twice} of them again), lost: ${lost.length}`,
  );
  if (lost.length > 0) process.exitCode = 1;
} finally {
  await server.remove();
}
