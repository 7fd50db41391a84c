/** The frame of every page: navigation, who is logged in, the CSRF token for the script, one stylesheet and one script. */
import { html, type SafeHtml } from '../html.ts';

export interface PageContext {
  /** The console's path prefix ('' or '/ops/console'). */
  base: string;
  operator: string;
  csrfToken: string;
  showPayloads: boolean;
  refreshMs: number;
}

const sections = [
  ['overview', '/', 'Overview'],
  ['dlt', '/dlt', 'Dead letters'],
  ['keys', '/keys', 'Parked keys'],
  ['schedules', '/schedules', 'Schedules'],
  ['outbox', '/outbox', 'Outbox'],
  ['audit', '/audit', 'Audit'],
] as const;

export type Section = (typeof sections)[number][0] | 'group';

export function page(context: PageContext, title: string, active: Section, body: SafeHtml): string {
  const { base } = context;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${context.csrfToken}">
<title>${title} · Orderly console</title>
<link rel="stylesheet" href="${base}/assets/console.css">
<script src="${base}/assets/console.js" defer></script>
</head>
<body>
<header>
<span class="brand">Orderly console</span>
<nav>${sections.map(([id, path, label]) => html`<a href="${base}${path}" class="${id === active ? 'active' : ''}">${label}</a>`)}</nav>
<span class="who">${context.operator}${context.showPayloads ? '' : ' · payloads hidden'}</span>
<form method="post" action="${base}/logout"><input type="hidden" name="csrf" value="${context.csrfToken}"><button type="submit">Log out</button></form>
</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`.text;
}

/** A query string from pairs, leaving out empty values. */
export function query(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

export function time(epochMs: number | undefined): string {
  return epochMs !== undefined && Number.isFinite(epochMs) && epochMs > 0 ? new Date(epochMs).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

export function age(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '-';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3_600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

export function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function errorPanel(message: string): SafeHtml {
  return html`<div class="panel error" data-state="error"><strong>Could not read this:</strong> ${message}</div>`;
}
