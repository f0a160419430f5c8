/**
 * Node-only: Redis connection options for BullMQ from a `redis://HOST:PORT[/db]` URL. Commands
 * wait while Redis is away (no per-request retry limit) and the client reconnects every ≤ 2 s;
 * callers bound the wait themselves (see `bounded`).
 */
import type { RedisOptions } from 'bullmq';
import { type RedisOptions as IORedisOptions, Redis } from 'ioredis';

/** Redis set that lists the queues of running sweeps (workers without --name serve all of them) */
export const REGISTRY_KEY = 'xspectra:sweeps';

export interface RedisTarget {
  options: RedisOptions;
  /** the URL without credentials, for messages */
  where: string;
}

export function redisTarget(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue expects redis://HOST:PORT[/db], got "${url}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`--queue expects redis://HOST:PORT[/db], got "${url}" (protocol ${u.protocol})`);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!(Number.isInteger(db) && db >= 0))
    throw new Error(`--queue ${url}: database "${dbText}" is not a number`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return {
    where: `${u.protocol}//${host}:${port}/${db}`,
    options: {
      host,
      port,
      db,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      tls: u.protocol === 'rediss:' ? {} : undefined,
      maxRetriesPerRequest: null,
      connectTimeout: 5000,
      retryStrategy: (times: number) => Math.min(250 * times, 2000),
    },
  };
}

/**
 * Run a Redis step, failing with a clear message if it has not finished after `ms` (Redis down or
 * unreachable: the client keeps retrying in the background until then).
 */
export async function bounded<T>(
  step: Promise<T>,
  ms: number,
  target: RedisTarget,
  lastError: () => string | undefined,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const why = lastError();
      reject(
        new Error(
          `Redis at ${target.where} did not answer for ${Math.round(ms / 1000)} s${why ? ` (${why})` : ''}; ` +
            'finished rows are in the store: start Redis and rerun the same command to resume',
        ),
      );
    }, ms);
  });
  try {
    return await Promise.race([step, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A plain client for the sweep registry (BullMQ's own client has no set commands) */
export function registryClient(target: RedisTarget, onError: (e: Error) => void): Redis {
  const r = new Redis(target.options as IORedisOptions);
  r.on('error', onError);
  return r;
}

/** Queue names of the registered sweeps */
export async function registeredSweeps(r: Redis): Promise<string[]> {
  return (await r.smembers(REGISTRY_KEY)).sort();
}
