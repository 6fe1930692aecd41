/**
 * The unlink webhook Kakao sends when a user disconnects the app from Kakao's side.
 */
import type { EmulatorSettings } from './options';

/** Kakao gives up on an unlink webhook after 3 seconds. */
const WEBHOOK_TIMEOUT_MS = 3000;

/**
 * Calls the configured webhook (`Authorization: KakaoAK <admin key>`; `app_id`, `user_id`,
 * `referrer_type` as GET query or POST form; no redirects followed; 3 s timeout). Resolves with its
 * status, or `undefined` when none is configured or it could not be reached.
 */
export async function sendUnlinkWebhook(
  settings: EmulatorSettings,
  userId: string,
  referrerType: string,
): Promise<number | undefined> {
  const { webhookUrl, webhookMethod, appId, adminKey } = settings;
  if (webhookUrl === undefined) return undefined;
  const fields = new URLSearchParams({ app_id: String(appId), user_id: userId, referrer_type: referrerType });
  const init: RequestInit = {
    method: webhookMethod,
    headers: { Authorization: `KakaoAK ${adminKey}` },
    redirect: 'manual',
    signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
  };
  let target = webhookUrl;
  if (webhookMethod === 'GET') {
    target = `${webhookUrl}${webhookUrl.includes('?') ? '&' : '?'}${fields.toString()}`;
  } else {
    init.headers = { ...init.headers, 'Content-Type': 'application/x-www-form-urlencoded' };
    init.body = fields.toString();
  }
  try {
    const response = await fetch(target, init);
    await response.body?.cancel();
    return response.status;
  } catch {
    return undefined;
  }
}
