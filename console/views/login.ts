/** The login page (answered with 401 to a browser without a session): the token once, and a name for the audit trail. */
import { html } from '../html.ts';

export function loginPage(base: string, failed: boolean): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · Orderly console</title>
<link rel="stylesheet" href="${base}/assets/console.css">
</head>
<body>
<form class="login" method="post" action="${base}/login">
<h1>Orderly console</h1>
<p class="muted">The token was printed when the console started (or is ORDERLY_CONSOLE_TOKEN).</p>
${failed ? html`<p class="bad">That token is not the console's.</p>` : ''}
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" required autofocus>
<label for="operator">Your name (for the audit trail)</label>
<input id="operator" name="operator" type="text" maxlength="64" placeholder="operator">
<button class="primary" type="submit">Log in</button>
</form>
</body>
</html>`.text;
}
