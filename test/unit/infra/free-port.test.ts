import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { choosePort, isPortFree } from '../../../infra/stack/free-port.ts';

describe('choosePort', () => {
  it('keeps the preferred port when free and picks another when it is taken', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const taken = (server.address() as { port: number }).port;
    try {
      expect(await isPortFree(taken)).toBe(false);
      const chosen = await choosePort(taken);
      expect(chosen).not.toBe(taken);
      expect(await isPortFree(chosen)).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await choosePort(taken)).toBe(taken);
  });
});
