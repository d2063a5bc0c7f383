// s3thumb: answer a thumbnail key naming JPEG in the format the browser
// prefers, with S3 still serving stored objects.
//
// A CloudFront Function (runtime cloudfront-js-2.0) for the viewer-request
// event of the distribution in cloudfront.yaml. For a request whose URI is a
// thumbnail key naming JPEG (NAME_SIZE[_MODE][@DENSITY].jpg or .jpeg, by the
// grammar of the README), it rewrites the URI's extension to .avif or .webp
// when the request's Accept header names that type exactly with a q above 0
// and the format is in ENABLED_FORMATS below. S3 then serves the stored
// .webp or .avif thumbnail, or redirects a missing one to the responder,
// which makes and stores it as for any other key.
//
// It also replaces the Accept header with one normalised value, the type of
// the format chosen (image/avif, image/webp or image/jpeg), and removes it
// from every other request: the cache policy keys on that value, never on
// the raw header, which differs with every browser version.
//
// The rule is the one the local front applies (serve
// --front-accept-formats); both are tested against
// testdata/accept-format.json (accept-format.test.mjs, and
// internal/acceptformat in Go).
//
// Limits: the function sees neither S3's tags nor which objects exist.
// - It cannot tell an original uploaded under a name like a thumbnail's
//   (banner_1200x630.jpg) from a thumbnail. Its rewritten request would look
//   for a thumbnail of banner.jpg and find no original (404).
// - It cannot check that the rewritten key has the same original. A
//   thumbnail's own extension comes first among its originals, so with both
//   kleiber.jpg and kleiber.webp stored, kleiber_200x200.jpg (made of
//   kleiber.jpg) would be answered with kleiber_200x200.webp, made of
//   kleiber.webp: another picture.
// Do not enable it on a site that uploads such names: JPEG names like a
// thumbnail's, or one name stored both in JPEG and in an enabled format. The
// local front (serve --front-accept-formats) reads the store and checks both.

// ENABLED_FORMATS are the formats a JPEG thumbnail key may be answered in:
// 'webp', 'avif', both, or none ([]: the function changes no URI). WebP by
// default: every current browser decodes it, and making it costs about what
// JPEG does; AVIF files are smaller still, but each first request waits
// for the slower AVIF encoder. AVIF is preferred over WebP on an equal q.
var ENABLED_FORMATS = ['webp'];

// PREFERENCE orders the formats on an equal q.
var PREFERENCE = ['avif', 'webp'];

// THUMBNAIL_JPEG matches the last segment of a thumbnail key naming JPEG:
// NAME_SIZE[_MODE][@DENSITY].EXT, SIZE WxH, Wx or xH with sides from 1 to
// 99999 without leading zeros.
var THUMBNAIL_JPEG = /^(.+)_([1-9][0-9]{0,4})?x([1-9][0-9]{0,4})?(_(fit|fill|smart|entropy))?(@[23]x)?\.([jJ][pP][eE]?[gG])$/;

// quality returns the highest q the Accept header gives the media type
// named exactly (0 when it is not named, or only with a malformed q).
function quality(accept, type) {
    var best = 0;
    var items = accept.split(',');
    for (var i = 0; i < items.length; i++) {
        var parts = items[i].split(';');
        if (parts[0].trim().toLowerCase() !== type) {
            continue;
        }
        var q = 1;
        for (var j = 1; j < parts.length; j++) {
            var eq = parts[j].indexOf('=');
            var name = (eq < 0 ? parts[j] : parts[j].slice(0, eq)).trim().toLowerCase();
            if (name === 'q') {
                var value = eq < 0 ? '' : parts[j].slice(eq + 1).trim();
                // RFC 9110's qvalue, as internal/acceptformat reads it.
                q = /^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/.test(value) ? parseFloat(value) : 0;
                break;
            }
        }
        if (q > best) {
            best = q;
        }
    }
    return best;
}

// chooseFormat returns 'avif', 'webp' or 'jpeg' for an Accept header value
// ('' when none was sent) and the enabled formats.
function chooseFormat(accept, enabled) {
    var best = 'jpeg';
    var bestQ = quality(accept, 'image/jpeg');
    for (var i = 0; i < PREFERENCE.length; i++) {
        var f = PREFERENCE[i];
        if (enabled.indexOf(f) < 0) {
            continue;
        }
        var q = quality(accept, 'image/' + f);
        if (q > 0 && q >= bestQ && (best === 'jpeg' || q > bestQ)) {
            best = f;
            bestQ = q;
        }
    }
    return best;
}

// safeKey reports whether a URI names an object key the grammar accepts:
// no empty, '.' or '..' segment, no backslash, no control character.
function safeKey(uri) {
    if (uri.length < 2 || uri.charAt(0) !== '/' || /[\u0000-\u001f\u007f\\]/.test(uri)) {
        return false;
    }
    var segments = uri.slice(1).split('/');
    for (var i = 0; i < segments.length; i++) {
        var s = segments[i];
        if (s === '' || s === '.' || s === '..') {
            return false;
        }
    }
    return true;
}

// rewrite returns the URI to request and the format chosen for it ('' when
// the URI is not a thumbnail key naming JPEG).
function rewrite(uri, accept, enabled) {
    if (!safeKey(uri)) {
        return { uri: uri, format: '' };
    }
    var slash = uri.lastIndexOf('/');
    var m = THUMBNAIL_JPEG.exec(uri.slice(slash + 1));
    if (m === null || (m[2] === undefined && m[3] === undefined)) {
        return { uri: uri, format: '' };
    }
    var format = chooseFormat(accept, enabled);
    if (format === 'jpeg') {
        return { uri: uri, format: format };
    }
    return { uri: uri.slice(0, uri.length - m[7].length) + format, format: format };
}

// acceptHeader joins every Accept header the viewer sent.
function acceptHeader(headers) {
    var h = headers.accept;
    if (!h) {
        return '';
    }
    if (h.multiValue) {
        return h.multiValue.map(function (v) { return v.value; }).join(',');
    }
    return h.value;
}

function handler(event) {
    var request = event.request;
    var r = rewrite(request.uri, acceptHeader(request.headers), ENABLED_FORMATS);
    request.uri = r.uri;
    if (r.format === '') {
        delete request.headers.accept;
    } else {
        request.headers.accept = { value: 'image/' + r.format };
    }
    return request;
}
