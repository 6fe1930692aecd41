/**
 * The checks of one failover run, shared by the Sentinel and Cluster suites: the scenario runs once in
 * `beforeAll` on the topology `start()` returns, and each test reads its figures.
 */
import { requireBuild } from './app-process';
import {
  CLIENT_TIMEOUT_MS,
  resultLine,
  runFailoverScenario,
  type FailoverResult,
  type FailoverTopology,
} from './scenario';

export interface FailoverSuite {
  /** The describe title. */
  title: string;
  /** Who must be able to log in again within 10 s ("a full login", "a full login of a user on the failed master"). */
  recoveringLogin: string;
  /** What /healthz reports first ("the outage", "the lost master"). */
  outage: string;
  /** Starts the Redis processes; `stop` kills them. */
  start(): Promise<{ topology: FailoverTopology; stop: () => Promise<void> }>;
}

export function failoverSuite(suite: FailoverSuite): void {
  let stop: (() => Promise<void>) | undefined;
  let result: FailoverResult;
  let name: string;

  beforeAll(async () => {
    requireBuild();
    const started = await suite.start();
    stop = started.stop;
    name = started.topology.name;
    result = await runFailoverScenario(started.topology);
    process.stdout.write(`${resultLine(result)}\n`);
    if (process.env.FAILOVER_DETAILS) process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
  }, 90_000);

  afterAll(async () => {
    await stop?.();
  });

  describe(suite.title, () => {
    test(`${suite.recoveringLogin} succeeds within 10 s of the kill`, () => {
      expect(result.recoveryMs).not.toBeNull();
      expect(result.recoveryMs!).toBeLessThanOrEqual(10_000);
    });

    test('no bare 500, every 503 has Retry-After, no status outside each route’s allowed set', () => {
      expect(result.bare500).toBe(0);
      expect(result.unavailableWithoutRetryAfter).toBe(0);
      expect(result.unexpected).toEqual([]);
    });

    test(`no request hangs (client timeout ${CLIENT_TIMEOUT_MS} ms), /healthz answers within about 1 s`, () => {
      expect(result.timeouts).toBe(0);
      expect(result.maxLatencyMs).toBeLessThan(CLIENT_TIMEOUT_MS);
      expect(result.healthzMaxMs).toBeLessThanOrEqual(1200);
    });

    test(`/healthz reports ${suite.outage} and then the recovery`, () => {
      expect(Object.keys(result.healthzStates).some((state) => state.startsWith('503'))).toBe(true);
      const ready = `200 {"ok":true,"redis":"ready","topology":"${name}"}`;
      expect(result.finalHealth).toEqual([ready, ready]);
    });

    test('every login made more than 2 s before the kill still has /me and /me/kakao on both apps', () => {
      expect(result.lostLogins).toEqual([]);
    });

    test('a refresh token rotated right before the kill is kept', () => {
      expect(result.lostRotationsBeforeKill).toEqual([]);
    });

    test('a refresh token rotated while the master dies is kept', () => {
      expect(result.lostRotationsAtKill).toEqual([]);
    });

    test('no app process restarted', () => {
      expect(result.restarts).toBe(0);
    });
  });
}
