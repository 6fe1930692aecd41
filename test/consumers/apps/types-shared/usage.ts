// Type-level usage shared by the types-express4 and types-express5 consumers (copied into each before
// install): compiled against @types/express 4 and 5 with skipLibCheck: false, and no casts anywhere.
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import {
  KakaoStrategy,
  MemoryTokenStore,
  createTokenCipher,
  generateKeyRing,
  kakaoAuth,
  kakaoErrorHandler,
  type KakaoSessionUser,
} from 'kakao-login-express';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends KakaoSessionUser {}
  }
}

const app = express();
app.use(session({ secret: 'types only', resave: false, saveUninitialized: false }));

// Drop-in routes.
const auth = kakaoAuth({
  clientID: 'rest-api-key',
  callbackURL: 'https://app.example/auth/kakao/callback',
  tokenStore: new MemoryTokenStore(),
  tokenCipher: createTokenCipher({ keys: generateKeyRing() }),
});
app.use(auth);
app.get('/me', (req, res) => {
  const user: KakaoSessionUser | undefined = req.user;
  if (user) res.json({ id: user.id, nickname: user.nickname });
  else res.sendStatus(401);
});
app.get('/me/kakao', async (req, res, next) => {
  try {
    const me = await auth.withAccessToken(req, (token) => auth.strategy.client.getUser(token));
    res.json(me);
  } catch (error) {
    next(error);
  }
});
app.use(kakaoErrorHandler());

// Passport only, on the app's global passport.
passport.use(
  new KakaoStrategy(
    { clientID: 'rest-api-key', callbackURL: 'https://app.example/login/kakao/callback' },
    (accessToken, refreshToken, tokens, profile, done) => {
      const id: string = profile.id;
      const user: KakaoSessionUser = { id, nickname: profile.displayName, authTime: Date.now() };
      done(null, user);
    },
  ),
);
passport.use(
  'kakao-with-request',
  new KakaoStrategy(
    {
      clientID: 'rest-api-key',
      callbackURL: 'https://app.example/login/kakao/callback',
      passReqToCallback: true,
    },
    (req, accessToken, refreshToken, tokens, profile, done) => {
      done(null, req.user ?? false);
    },
  ),
);
passport.serializeUser((user, done) => done(null, user.id));
app.get(
  '/login/kakao',
  passport.authenticate('kakao', { returnTo: '/welcome', prompt: 'login', scope: ['profile_nickname'] }),
);
app.get(
  '/login/kakao/callback',
  passport.authenticate('kakao', { failureRedirect: '/login' }),
  (_req: express.Request, res: express.Response) => res.redirect('/'),
);

export { app };
