/**
 * HTML of the emulator: the consent screen (account choice + consent items) and Kakao-like error pages.
 * No scripts; one inline stylesheet allowed by a per-response nonce.
 */
import { randomBytes } from 'node:crypto';
import { CONSENT_ITEM_LABELS, canGrant, type UserRecord } from './users';
import { escapeHtml } from './wire';

/** Path the consent form posts to. */
export const DECISION_PATH = '/oauth/authorize/decision';

/** What the consent screen shows. */
export interface ConsentPageInput {
  /** One-time id of the pending authorization (the only thing the form carries back). */
  requestId: string;
  /** Host of the redirect URI, shown as the service the user logs in to. */
  serviceHost: string;
  /** Origin the decision redirects to; allowed in `form-action` because CSP also applies to the redirect. */
  redirectOrigin: string;
  users: readonly UserRecord[];
  preselectedUserId: string | undefined;
  /** Requested consent items (`openid` excluded: it is not shown to users). */
  items: readonly string[];
  /** Items that cannot be unticked (shown checked and disabled; the server agrees to them anyway). */
  requiredItems: readonly string[];
  /** Kakao Sync service terms to agree to. */
  serviceTerms: readonly { tag: string; required: boolean }[];
  avatarUrl: (user: UserRecord) => string;
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 -apple-system,"Apple SD Gothic Neo","Malgun Gothic",system-ui,sans-serif;background:#f2f2f2;color:#191919}
main{max-width:440px;margin:32px auto;padding:28px 24px;background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.08)}
.brand{display:inline-block;padding:2px 10px;border-radius:12px;background:#fee500;font-weight:700;font-size:13px}
.note{margin:8px 0 0;font-size:12px;color:#8a8a8a}
h1{font-size:20px;margin:16px 0 4px}
h1 small{display:block;font-size:14px;font-weight:400;color:#555}
fieldset{border:0;padding:0;margin:20px 0 0}
legend{font-weight:700;margin-bottom:8px}
legend small,.en{color:#777;font-weight:400}
label{display:flex;align-items:center;gap:10px;padding:8px 10px;border-radius:8px;cursor:pointer}
label:hover{background:#f7f7f7}
.account img{width:36px;height:36px;border-radius:50%}
.account .who{display:flex;flex-direction:column;line-height:1.3}
.account .id{font-size:12px;color:#888}
.na{display:none;font-size:12px;color:#c0392b;margin-left:auto}
.actions{display:flex;flex-direction:column;gap:8px;margin-top:24px}
button{font:inherit;font-weight:700;padding:12px;border-radius:8px;border:0;cursor:pointer}
.accept{background:#fee500;color:#191919}
.cancel{background:#f0f0f0;color:#555}
`;

function itemLabel(item: string): string {
  const [ko, en] = CONSENT_ITEM_LABELS[item] ?? [item, item];
  return `${escapeHtml(ko)} <span class="en">· ${escapeHtml(en)}</span>`;
}

/** Greys out items the selected account cannot grant, without scripts (the server enforces it anyway). */
function grantabilityRules(users: readonly UserRecord[], items: readonly string[]): string {
  const rules: string[] = [];
  for (const user of users) {
    for (const item of items) {
      if (canGrant(user, item)) continue;
      const scope = `form:has(#user-${user.id}:checked) .item-${item}`;
      rules.push(`${scope}{opacity:.45;pointer-events:none}${scope} .na{display:inline}`);
    }
  }
  return rules.join('\n');
}

function page(title: string, nonce: string, style: string, body: string): string {
  return (
    `<!doctype html>\n<html lang="ko"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="robots" content="noindex">` +
    `<title>${escapeHtml(title)}</title><style nonce="${nonce}">${style}</style></head>` +
    `<body><main>${body}</main></body></html>\n`
  );
}

/** The consent screen and the Content-Security-Policy to send with it. */
export function consentPage(input: ConsentPageInput): { html: string; csp: string } {
  const nonce = randomBytes(16).toString('base64');
  const preselected = input.users.find((user) => user.id === input.preselectedUserId) ?? input.users[0];
  const accounts = input.users
    .map((user) => {
      const checked = user === preselected ? ' checked' : '';
      const detail = user.email ?? `ID ${user.id}`;
      return (
        `<label class="account" for="user-${user.id}">` +
        `<input type="radio" name="user_id" id="user-${user.id}" value="${user.id}" required${checked}>` +
        `<img src="${escapeHtml(input.avatarUrl(user))}" alt="">` +
        `<span class="who"><span class="name">${escapeHtml(user.nickname)}</span>` +
        `<span class="id">${escapeHtml(detail)}</span></span></label>`
      );
    })
    .join('');
  const required = ' disabled'; // a disabled box is not posted: the server adds required items itself
  const items = input.items
    .map((item) => {
      const isRequired = input.requiredItems.includes(item);
      return (
        `<label class="item-${item}" for="scope-${item}">` +
        `<input type="checkbox" name="scope" id="scope-${item}" value="${item}" checked${isRequired ? required : ''}>` +
        `<span>${isRequired ? '[필수 · required] ' : ''}${itemLabel(item)}</span>` +
        `<span class="na">제공 불가 · not available for this account</span></label>`
      );
    })
    .join('');
  const terms = input.serviceTerms
    .map(
      (term) =>
        `<label for="term-${escapeHtml(term.tag)}">` +
        `<input type="checkbox" name="service_terms" id="term-${escapeHtml(term.tag)}" value="${escapeHtml(term.tag)}" checked${term.required ? required : ''}>` +
        `<span>${term.required ? '[필수 · required] ' : ''}${escapeHtml(term.tag)}</span></label>`,
    )
    .join('');
  const body =
    `<span class="brand">kakao</span>` +
    `<p class="note">Kakao emulator — 실제 카카오가 아닙니다 · this is not real Kakao</p>` +
    `<h1>${escapeHtml(input.serviceHost)} 서비스 로그인<small>Log in to ${escapeHtml(input.serviceHost)} with Kakao</small></h1>` +
    `<form method="post" action="${DECISION_PATH}">` +
    `<input type="hidden" name="request_id" value="${escapeHtml(input.requestId)}">` +
    `<fieldset><legend>카카오계정 선택 <small>· Choose a Kakao account</small></legend>${accounts}</fieldset>` +
    (items === ''
      ? ''
      : `<fieldset><legend>동의 항목 <small>· Information to share</small></legend>${items}</fieldset>`) +
    (terms === ''
      ? ''
      : `<fieldset><legend>서비스 약관 <small>· Service terms</small></legend>${terms}</fieldset>`) +
    `<div class="actions">` +
    `<button type="submit" class="accept" name="action" value="accept">동의하고 계속하기</button>` +
    `<button type="submit" class="cancel" name="action" value="cancel" formnovalidate>취소</button>` +
    `</div></form>`;
  const csp = [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    "img-src 'self'",
    `form-action 'self' ${input.redirectOrigin}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return {
    html: page(
      '카카오계정 로그인 · Kakao emulator',
      nonce,
      STYLE + grantabilityRules(input.users, input.items),
      body,
    ),
    csp,
  };
}

/** A Kakao-like error page naming the KOE code; shown when Kakao cannot safely redirect back. */
export function errorPage(koe: string, description: string): { html: string; csp: string } {
  const nonce = randomBytes(16).toString('base64');
  const body =
    `<span class="brand">kakao</span>` +
    `<p class="note">Kakao emulator — 실제 카카오가 아닙니다 · this is not real Kakao</p>` +
    `<h1>잘못된 요청 (${escapeHtml(koe)})<small>Bad request (${escapeHtml(koe)})</small></h1>` +
    `<p class="error-description">${escapeHtml(description)}</p>`;
  return {
    html: page(`Error ${koe}`, nonce, STYLE, body),
    csp: `default-src 'none'; style-src 'nonce-${nonce}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
  };
}
