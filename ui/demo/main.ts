import './mock-backend';
import '../src/main';
import { navigate, type Route } from '../src/lib/session.svelte';

// ?route={"name":"case","id":"c1","tab":"evidence"}&click=testid,testid&type=testid:text
const q = new URLSearchParams(location.search);
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function script() {
  await wait(300);
  const route = q.get('route');
  if (route) navigate(JSON.parse(route) as Route);
  await wait(300);
  for (const step of (q.get('steps') ?? '').split(',').filter(Boolean)) {
    const [verb, id, ...rest] = step.split(':');
    const el = document.querySelector<HTMLElement>(`[data-testid="${id}"]`);
    if (!el) continue;
    if (verb === 'click') el.click();
    if (verb === 'type' && (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement)) {
      el.value = rest.join(':');
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }
    await wait(250);
  }
}
void script();
