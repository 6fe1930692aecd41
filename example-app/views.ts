import type { KakaoSessionUser } from 'kakao-login-express';

/** Escapes text for HTML element and attribute content. */
export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Login failure codes in plain words, Korean first then English. Unknown codes get the generic text. */
const LOGIN_ERRORS: Record<string, [string, string]> = {
  access_denied: ['카카오 로그인을 취소했습니다.', 'You cancelled the Kakao login.'],
  consent_required: ['카카오에서 동의가 필요합니다.', 'Kakao needs your consent first.'],
  login_required: ['카카오에 로그인되어 있지 않습니다.', 'You are not signed in to Kakao.'],
  interaction_required: ['카카오에서 추가 확인이 필요합니다.', 'Kakao needs you to complete a step first.'],
  login_expired: [
    '로그인 시간이 지났거나 이미 사용된 로그인입니다. 다시 시도해 주세요.',
    'The login took too long or was already used. Please try again.',
  ],
  state_mismatch: [
    '이 브라우저에서 시작한 로그인이 아닙니다. 다시 시도해 주세요.',
    'This login was not started in this browser. Please try again.',
  ],
  session_missing: [
    '로그인을 시작한 세션을 찾을 수 없습니다. 쿠키가 차단되었거나 만료되었을 수 있습니다.',
    'The session that started this login was not found; cookies may be blocked or expired.',
  ],
  invalid_request: ['잘못된 로그인 응답입니다.', 'The login response was malformed.'],
  code_rejected: [
    '카카오가 로그인 코드를 받아들이지 않았습니다. 다시 시도해 주세요.',
    'Kakao did not accept the login code. Please try again.',
  ],
  authorization_failed: ['카카오 인증에 실패했습니다.', 'Kakao could not authorize this login.'],
  user_rejected: ['이 계정으로는 로그인할 수 없습니다.', 'This account cannot sign in here.'],
  id_token_invalid: ['로그인 정보를 확인하지 못했습니다.', 'The login could not be verified.'],
};

const STYLE = `
  :root { font-family: system-ui, -apple-system, "Apple SD Gothic Neo", "Noto Sans KR", sans-serif; color: #191919; }
  body { margin: 0; background: #f7f7f8; }
  main { max-width: 34rem; margin: 4rem auto; background: #fff; border-radius: 16px; padding: 2rem 2.25rem;
         box-shadow: 0 1px 3px rgba(0,0,0,.08), 0 8px 24px rgba(0,0,0,.04); }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  p { line-height: 1.55; }
  .kakao { display: inline-flex; align-items: center; gap: .5rem; background: #FEE500; color: #000000d9;
           font-weight: 600; text-decoration: none; padding: .8rem 1.4rem; border-radius: 12px; border: 0; font-size: 1rem; cursor: pointer; }
  .profile { display: flex; align-items: center; gap: 1rem; margin-bottom: 1.5rem; }
  .profile img { width: 72px; height: 72px; border-radius: 50%; object-fit: cover; background: #eee; }
  .nickname { font-size: 1.25rem; font-weight: 600; }
  .muted { color: #6b6b6b; font-size: .9rem; }
  .actions { display: flex; flex-wrap: wrap; gap: .5rem; }
  .actions form { margin: 0; }
  button.secondary, a.secondary { background: #fff; border: 1px solid #d0d0d5; border-radius: 10px; padding: .55rem 1rem;
           font-size: .95rem; cursor: pointer; color: #191919; text-decoration: none; display: inline-block; }
  button.danger { background: #fff; border: 1px solid #e5484d; color: #c4262b; border-radius: 10px; padding: .55rem 1rem; font-size: .95rem; cursor: pointer; }
  .alert { background: #fff4f4; border: 1px solid #f3c2c2; color: #8a1c1c; border-radius: 10px; padding: .75rem 1rem; margin-bottom: 1.25rem; }
  .note { background: #fffbe6; border: 1px solid #f1e3a0; border-radius: 10px; padding: .6rem .9rem; font-size: .85rem; margin-top: 1.5rem; }
  code { background: #f1f1f4; padding: .1rem .3rem; border-radius: 4px; }
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body><main>${body}</main></body>
</html>`;
}

/** The friendly sentence for a `login_error` code, in Korean and English. */
export function loginErrorText(code: string): [string, string] {
  return (
    LOGIN_ERRORS[code] ?? [
      '로그인에 실패했습니다. 다시 시도해 주세요.',
      'The login failed. Please try again.',
    ]
  );
}

/** The home page: a login link when anonymous, the profile and actions when logged in. */
export function homePage(options: {
  user: KakaoSessionUser | undefined;
  loginError: string | undefined;
  demoEmulatorUrl: string | undefined;
}): string {
  const { user, loginError, demoEmulatorUrl } = options;
  const alert = loginError
    ? (() => {
        const [ko, en] = loginErrorText(loginError);
        return `<div class="alert" role="alert" data-login-error="${escapeHtml(loginError)}"><div>${escapeHtml(ko)}</div><div class="muted">${escapeHtml(en)}</div></div>`;
      })()
    : '';
  const demo = demoEmulatorUrl
    ? `<p class="note">데모 모드: 실제 카카오가 아닌 내장 에뮬레이터(<code>${escapeHtml(demoEmulatorUrl)}</code>)로 로그인합니다.<br>Demo mode: this logs in against the built-in Kakao emulator, not real Kakao.</p>`
    : '';
  if (!user) {
    return page(
      'Login with Kakao',
      `<h1>kakao-login-express</h1>${alert}
<p>카카오 계정으로 로그인해 보세요.<br><span class="muted">Sign in with your Kakao account.</span></p>
<p><a class="kakao" href="/auth/kakao">카카오 로그인 · Login with Kakao</a></p>${demo}`,
    );
  }
  const picture = user.image
    ? `<img src="${escapeHtml(user.image)}" alt="" referrerpolicy="no-referrer">`
    : '<img alt="">';
  const email = user.email ? `<div class="muted" data-email>${escapeHtml(user.email)}</div>` : '';
  const unlink = `<form method="post" action="/unlink"><button class="danger" type="submit">연결 끊기 · Unlink</button></form>`;
  return page(
    'Logged in with Kakao',
    `<h1>안녕하세요!</h1>${alert}
<div class="profile">${picture}<div><div class="nickname" data-nickname>${escapeHtml(user.nickname ?? '(no nickname)')}</div>
<div class="muted">Kakao ID ${escapeHtml(user.id)}</div>${email}</div></div>
<div class="actions">
<a class="secondary" href="/me/kakao">카카오 API 호출 · Call Kakao API</a>
<form method="post" action="/logout"><button class="secondary" type="submit">로그아웃 · Logout</button></form>
<form method="post" action="/logout?kakaoAccount=1"><button class="secondary" type="submit">카카오 계정까지 로그아웃 · Logout from Kakao too</button></form>
${unlink}
</div>${demo}`,
  );
}

const STATUS_TEXT: Record<number, [string, string]> = {
  400: ['잘못된 요청입니다.', 'The request was not valid.'],
  403: ['허용되지 않은 요청입니다.', 'This request is not allowed.'],
  404: ['페이지를 찾을 수 없습니다.', 'Page not found.'],
  405: ['허용되지 않은 방법입니다.', 'This method is not allowed here.'],
  429: ['요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.', 'Too many requests. Please wait a moment.'],
  502: [
    '카카오 응답에 문제가 있습니다. 잠시 후 다시 시도해 주세요.',
    'Kakao answered with an error. Please try again shortly.',
  ],
  503: [
    '일시적으로 서비스를 사용할 수 없습니다. 잠시 후 다시 시도해 주세요.',
    'The service is temporarily unavailable. Please try again shortly.',
  ],
  504: [
    '카카오 응답이 너무 늦습니다. 잠시 후 다시 시도해 주세요.',
    'Kakao took too long to answer. Please try again shortly.',
  ],
};

/** An error page in plain words (Korean and English) with a reference id and nothing internal. */
export function errorPage(status: number, requestId: string): string {
  const [ko, en] = STATUS_TEXT[status] ?? ['문제가 발생했습니다.', 'Something went wrong.'];
  return page(
    `${status}`,
    `<h1>${escapeHtml(ko)}</h1><p>${escapeHtml(en)}</p>
<p><a class="secondary" href="/">처음으로 · Home</a></p>
<p class="muted">참조 번호 · Reference: <code>${escapeHtml(requestId)}</code></p>`,
  );
}
