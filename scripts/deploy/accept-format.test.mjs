// Tests the CloudFront Function accept-format.js against the table the Go
// side reads too (testdata/accept-format.json), and its handler on
// CloudFront's event shape. Run: node --test scripts/deploy/
// (internal/acceptformat's Go test runs it under `make test`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const here = new URL('.', import.meta.url);
const source = readFileSync(new URL('accept-format.js', here), 'utf8');
const table = JSON.parse(readFileSync(new URL('testdata/accept-format.json', here), 'utf8'));

// load evaluates the function's file as CloudFront does, a plain script,
// with ENABLED_FORMATS replaced when enabled is given.
function load(enabled) {
  let code = source;
  if (enabled !== undefined) {
    const line = /^var ENABLED_FORMATS = .*;$/m;
    assert.match(code, line, 'accept-format.js declares ENABLED_FORMATS on one line');
    code = code.replace(line, `var ENABLED_FORMATS = ${JSON.stringify(enabled)};`);
  }
  const context = {};
  vm.runInNewContext(code, context);
  return context;
}

const fn = load();
const list = (s) => (s === '' ? [] : s.split(','));

test('chooseFormat follows the table for every client and enabled set', () => {
  for (const row of table.accept) {
    for (const [enabled, want] of Object.entries(row.want)) {
      assert.equal(fn.chooseFormat(row.accept ?? '', list(enabled)), want, `${row.client}, enabled "${enabled}"`);
    }
  }
});

test('rewrite follows the table for every URI', () => {
  for (const row of table.uris) {
    assert.equal(fn.rewrite(row.uri, row.accept ?? '', list(row.enabled)).uri, row.want, `${row.uri}, enabled "${row.enabled}", Accept ${row.accept}`);
  }
});

test('webp alone is enabled by default', () => {
  assert.deepEqual([...fn.ENABLED_FORMATS], ['webp']);
});

// event builds CloudFront's viewer-request event.
function event(uri, headers) {
  return { version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: '192.0.2.1' }, request: { method: 'GET', uri, querystring: {}, headers, cookies: {} } };
}

test('handler rewrites a thumbnail key and normalises Accept to one value', () => {
  const both = load(['avif', 'webp']);
  const chrome = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
  const cases = [
    { uri: '/photos/kleiber_200x200.jpg', accept: chrome, fn: both, wantURI: '/photos/kleiber_200x200.avif', wantAccept: 'image/avif' },
    { uri: '/photos/kleiber_200x200.jpg', accept: chrome, fn, wantURI: '/photos/kleiber_200x200.webp', wantAccept: 'image/webp' },
    { uri: '/photos/kleiber_200x200.jpg', accept: '*/*', fn: both, wantURI: '/photos/kleiber_200x200.jpg', wantAccept: 'image/jpeg' },
    { uri: '/photos/kleiber_200x200.jpg', accept: undefined, fn: both, wantURI: '/photos/kleiber_200x200.jpg', wantAccept: 'image/jpeg' },
    // Not a thumbnail key naming JPEG: the URI stays, Accept is removed so
    // the cache holds one copy.
    { uri: '/photos/kleiber.jpg', accept: chrome, fn: both, wantURI: '/photos/kleiber.jpg', wantAccept: undefined },
    { uri: '/photos/kleiber_200x200.webp', accept: chrome, fn: both, wantURI: '/photos/kleiber_200x200.webp', wantAccept: undefined },
    { uri: '/resize', accept: chrome, fn: both, wantURI: '/resize', wantAccept: undefined },
  ];
  for (const c of cases) {
    const headers = { host: { value: 'images.example.com' } };
    if (c.accept !== undefined) {
      headers.accept = { value: c.accept };
    }
    const req = c.fn.handler(event(c.uri, headers));
    assert.equal(req.uri, c.wantURI, `${c.uri} with Accept ${c.accept}`);
    assert.equal(req.headers.accept?.value, c.wantAccept, `${c.uri} with Accept ${c.accept}: normalised Accept`);
    assert.equal(req.headers.host.value, 'images.example.com');
  }
});

test('handler reads every Accept header of a request that sent several', () => {
  const both = load(['avif', 'webp']);
  const req = both.handler(event('/a_10x10.jpg', { accept: { value: 'text/html', multiValue: [{ value: 'text/html' }, { value: 'image/webp' }] } }));
  assert.equal(req.uri, '/a_10x10.webp');
  assert.equal(req.headers.accept.value, 'image/webp');
});

test('with no format enabled nothing is rewritten', () => {
  const none = load([]);
  const req = none.handler(event('/a_10x10.jpg', { accept: { value: 'image/avif,image/webp' } }));
  assert.equal(req.uri, '/a_10x10.jpg');
  assert.equal(req.headers.accept.value, 'image/jpeg');
});
