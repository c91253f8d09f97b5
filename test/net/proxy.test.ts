import assert from 'node:assert/strict';
import { describeRoute, noProxyMatch, parseProxyUrl, proxyRoute, ProxyConfigError } from '../../src/net/proxy.js';

const route = (target: string, env: Record<string, string>, setting?: string) =>
  describeRoute(proxyRoute(target, setting, 'outputs.splunk.proxy', env));

describe('net/proxy: which proxy a request takes', () => {
  it('takes HTTPS_PROXY for https targets and HTTP_PROXY for http ones, lower case first, ALL_PROXY last', () => {
    const env = { HTTPS_PROXY: 'http://secure:3128', HTTP_PROXY: 'http://plain:3128' };
    assert.equal(route('https://api.cloudflare.com/client/v4', env), 'via proxy http://secure:3128 (HTTPS_PROXY)');
    assert.equal(route('http://splunk:8088', env), 'via proxy http://plain:3128 (HTTP_PROXY)');
    assert.equal(
      route('https://x', { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' }),
      'via proxy http://lower:1 (https_proxy)',
    );
    assert.equal(route('https://x', { ALL_PROXY: 'http://all:8080' }), 'via proxy http://all:8080 (ALL_PROXY)');
    assert.equal(route('https://x', { HTTP_PROXY: 'http://plain:3128' }), 'direct (no HTTPS_PROXY in the environment)');
    // A proxy written without a scheme is http (curl's reading).
    assert.equal(
      route('https://x', { HTTPS_PROXY: 'corp-proxy:8080' }),
      'via proxy http://corp-proxy:8080 (HTTPS_PROXY)',
    );
  });

  it('the proxy key wins over the environment; none opts out of it', () => {
    const env = { HTTPS_PROXY: 'http://env:3128', NO_PROXY: '*' };
    assert.equal(
      route('https://splunk:8088', env, 'http://mine:8080'),
      'via proxy http://mine:8080 (outputs.splunk.proxy)',
    );
    assert.equal(route('https://splunk:8088', env, 'none'), 'direct (outputs.splunk.proxy is none)');
  });

  it('never prints the credentials of a proxy', () => {
    const text = route('https://x', { HTTPS_PROXY: 'http://svc-shipper:s3cr%40t@proxy:3128' });
    assert.equal(text, 'via proxy http://***@proxy:3128 (HTTPS_PROXY)');
    assert.throws(
      () => proxyRoute('https://x', undefined, 'k', { HTTPS_PROXY: 'socks5://u:hunter22@proxy:1080' }),
      (error: unknown) => {
        assert.ok(error instanceof ProxyConfigError);
        assert.equal(error.key, 'HTTPS_PROXY');
        assert.match(
          error.message,
          /HTTPS_PROXY uses socks5:\/\/, but only http:\/\/ and https:\/\/ proxies are supported/,
        );
        assert.doesNotMatch(error.message, /hunter22/);
        return true;
      },
    );
  });

  it('refuses proxy URLs it cannot use, saying why', () => {
    assert.equal(parseProxyUrl('http://proxy:3128/some/path'), 'must be only scheme://[user:password@]host[:port]');
    assert.equal(parseProxyUrl('http://'), 'is not a URL such as http://proxy.example.com:3128');
    assert.ok(parseProxyUrl('https://proxy:443') instanceof URL);
    assert.ok(parseProxyUrl('http://[fd00::1]:3128') instanceof URL);
  });

  it('NO_PROXY: domains with their subdomains, ports, IPs, CIDR blocks and *', () => {
    const list =
      'localhost, .internal.example, *.corp.example,splunk.example:8088 10.0.0.0/8 fd00::/8 192.168.1.7 [::1]:9000';
    const cases: [string, number, string | undefined][] = [
      ['localhost', 443, 'localhost'],
      ['internal.example', 443, '.internal.example'],
      ['idx1.internal.example', 8088, '.internal.example'],
      ['myinternal.example', 443, undefined],
      ['hec.corp.example', 443, '*.corp.example'],
      ['corp.example', 443, '*.corp.example'],
      ['splunk.example', 8088, 'splunk.example:8088'],
      ['splunk.example', 443, undefined],
      ['idx.splunk.example', 8088, 'splunk.example:8088'],
      ['10.1.2.3', 443, '10.0.0.0/8'],
      ['11.1.2.3', 443, undefined],
      ['[fd00::17]', 443, 'fd00::/8'],
      ['192.168.1.7', 80, '192.168.1.7'],
      ['192.168.1.8', 80, undefined],
      ['[::1]', 9000, '[::1]:9000'],
      ['[::1]', 9001, undefined],
      ['api.cloudflare.com', 443, undefined],
      ['LOCALHOST.', 443, 'localhost'],
    ];
    for (const [host, port, expected] of cases)
      assert.equal(noProxyMatch(host, port, list), expected, `${host}:${port}`);
    assert.equal(noProxyMatch('anything', 1, '*'), '*');
    assert.equal(noProxyMatch('anything', 1, ''), undefined);
    // A name never matches an IP block, and an IP never matches a domain suffix.
    assert.equal(noProxyMatch('10.example', 443, '10.0.0.0/8'), undefined);
    assert.equal(noProxyMatch('10.0.0.1', 443, '0.0.1'), undefined);
  });

  it('NO_PROXY applies to proxies from the environment, with the port the URL implies', () => {
    const env = { HTTPS_PROXY: 'http://env:3128', NO_PROXY: 'splunk.example:443,127.0.0.1' };
    assert.equal(route('https://splunk.example/services/collector', env), 'direct (NO_PROXY lists splunk.example:443)');
    assert.equal(route('https://splunk.example:8088', env), 'via proxy http://env:3128 (HTTPS_PROXY)');
    assert.equal(route('https://127.0.0.1:8088', env), 'direct (NO_PROXY lists 127.0.0.1)');
    assert.equal(
      route('https://127.0.0.1:8088', { ...env, NO_PROXY: '', no_proxy: '127.0.0.1' }),
      'direct (no_proxy lists 127.0.0.1)',
    );
  });
});
