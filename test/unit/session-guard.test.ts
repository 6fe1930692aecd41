import session from 'express-session';
import { kakaoAuth } from '../../lib/routes';
import { MemoryTokenStore } from '../../lib/token-store';

const base = { clientID: 'rest-key', callbackURL: 'https://app.example/auth/kakao/callback' };

function set(store: session.Store, sid: string, data: object): Promise<void> {
  return new Promise((resolve, reject) =>
    store.set(sid, data as session.SessionData, (err) => (err ? reject(err) : resolve())),
  );
}
function get(store: session.Store, sid: string): Promise<unknown> {
  return new Promise((resolve, reject) =>
    store.get(sid, (err, value) => (err ? reject(err) : resolve(value))),
  );
}

describe('guardSessionStore (R67: no resurrection of ended sessions)', () => {
  const loggedIn = {
    cookie: { originalMaxAge: null },
    passport: { user: { id: '1', authTime: Date.now() } },
  };

  test('a logged-in session that was ended is not written back', async () => {
    const tokenStore = new MemoryTokenStore();
    const store = kakaoAuth({ ...base, tokenStore }).guardSessionStore(new session.MemoryStore());
    await tokenStore.markSessionEnded('ended-sid', 60);
    await set(store, 'ended-sid', loggedIn);
    expect(await get(store, 'ended-sid')).toBeUndefined();
  });

  test('other sessions, and anonymous writes of an ended id, are written as usual', async () => {
    const tokenStore = new MemoryTokenStore();
    const store = kakaoAuth({ ...base, tokenStore }).guardSessionStore(new session.MemoryStore());
    await tokenStore.markSessionEnded('ended-sid', 60);
    await set(store, 'live-sid', loggedIn);
    await set(store, 'ended-sid', { cookie: { originalMaxAge: null } });
    expect(await get(store, 'live-sid')).toMatchObject({ passport: { user: { id: '1' } } });
    expect(await get(store, 'ended-sid')).toBeDefined();
  });
});
