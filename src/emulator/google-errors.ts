// The error bodies the real service sends, in one place: {"error": {code, message, status,
// details}} for HTTP answers, bare google.rpc.Status ({code, message}, canonical codes) for a
// batch's per-request errors, and Google's front-end HTML page for a URL that names no method.
// Everything else in the emulator builds its errors from these, so the texts stay the service's.

/** An HTTP error body's `error` object. */
export interface GoogleError {
  code: number;
  status: string;
  message: string;
  details?: unknown[];
}

/** A google.rpc.Status as a batch's responses file carries it: a canonical code, no HTTP code, no status string. */
export interface RpcStatus {
  code: number;
  message: string;
  details?: unknown[];
}

/** The canonical codes (google.rpc.Code) by number. */
export const RPC_CODE_NAMES: Readonly<Record<number, string>> = {
  0: 'OK', 1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS', 7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION', 10: 'ABORTED',
  11: 'OUT_OF_RANGE', 12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE', 15: 'DATA_LOSS', 16: 'UNAUTHENTICATED',
};

/** The HTTP status Google's front end maps each canonical code to. */
const HTTP_OF_RPC: Readonly<Record<number, number>> = {
  1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
};

/** The canonical code of an HTTP status (the inverse the batch backend applies to a failed request). */
export function rpcCodeOfHttp(status: number): number {
  switch (status) {
    case 400: return 3;
    case 401: return 16;
    case 403: return 7;
    case 404: return 5;
    case 408: case 504: return 4;
    case 409: return 10;
    case 429: return 8;
    case 501: return 12;
    case 502: case 503: return 14;
    default: return status >= 500 ? 13 : 2;
  }
}

/** The messages the service attaches to the canonical codes it sends for a failed batch request. */
const RPC_MESSAGES: Readonly<Record<number, string>> = {
  3: 'Request contains an invalid argument.',
  4: 'Deadline expired before operation could complete.',
  8: 'Resource has been exhausted (e.g. check quota).',
  13: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  14: 'The service is currently unavailable.',
};

export function rpcStatus(code: number, message?: string): RpcStatus {
  return { code, message: message ?? RPC_MESSAGES[code] ?? `${RPC_CODE_NAMES[code] ?? 'UNKNOWN'}` };
}

/** The HTTP error body of a canonical code. */
export function httpErrorOfRpc(s: RpcStatus): GoogleError {
  return { code: HTTP_OF_RPC[s.code] ?? 500, status: RPC_CODE_NAMES[s.code] ?? 'UNKNOWN', message: s.message, ...(s.details ? { details: s.details } : {}) };
}

export const invalidArgument = (message: string): GoogleError => ({ code: 400, status: 'INVALID_ARGUMENT', message });
export const notFound = (message: string): GoogleError => ({ code: 404, status: 'NOT_FOUND', message });
export const failedPrecondition = (message: string): GoogleError => ({ code: 400, status: 'FAILED_PRECONDITION', message });
export const permissionDenied = (message: string): GoogleError => ({ code: 403, status: 'PERMISSION_DENIED', message });

/** A request body that is not JSON, in the words of the service's JSON parser. */
export const invalidJson = (detail: string): GoogleError => invalidArgument(`Invalid JSON payload received. ${detail}`);

/** No key at all: the service does not know who is calling. */
export const UNREGISTERED_CALLER: GoogleError = permissionDenied(
  'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.',
);

/** A key the service does not know. */
export const API_KEY_INVALID: GoogleError = {
  code: 400, status: 'INVALID_ARGUMENT', message: 'API key not valid. Please pass a valid API key.',
  details: [
    { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
    { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
  ],
};

/** A model the service does not serve (or not for this method). */
export function modelNotFound(model: string, version: string, method: string): GoogleError {
  return notFound(`models/${model} is not found for API version ${version}, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`);
}

/**
 * What Google's front end answers for a URL that names no method (an unknown path, or a known
 * path with the wrong HTTP verb): a 404 HTML page, not a JSON error. Clients that parse the body
 * as JSON fail on it exactly as they fail on the real one.
 */
export function html404(path: string): string {
  const shown = path.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return '<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n'
    + '  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">\n'
    + '  <title>Error 404 (Not Found)!!1</title>\n'
    + '  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>\n'
    + `  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n  <p>The requested URL <code>${shown}</code> was not found on this server.  <ins>That\u2019s all we know.</ins>\n`;
}
