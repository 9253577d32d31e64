import { describe, expect, it } from 'vitest';
import * as codec from './index.ts';

describe('index', () => {
  it('re-exports the public API', () => {
    const names = [
      'FrameReader', 'StartupReader', 'BufferReader', 'ScramClient', 'decodeStartupParams', 'md5Password',
      'decodeQuery', 'decodeParse', 'decodeBind', 'decodeExecute', 'decodeDescribe', 'decodeClose', 'decodePassword', 'decodeCopyFail',
      'encodeStartup', 'encodeSslRequest', 'encodeCancelRequest', 'encodePassword', 'encodeSaslInitialResponse', 'encodeSaslResponse',
      'encodeQuery', 'encodeSync', 'encodeTerminate', 'encodeParse', 'encodeBind', 'encodeExecute', 'encodeDescribe',
      'decodeAuthentication', 'decodeParameterStatus', 'decodeBackendKeyData', 'decodeReadyForQuery', 'decodeRowDescription',
      'decodeDataRow', 'dataRowColumnCount', 'decodeCommandComplete', 'decodeErrorFields', 'decodeNotification', 'decodeCopyResponse',
      'encodeAuthenticationOk', 'encodeAuthenticationCleartext', 'encodeParameterStatus', 'encodeBackendKeyData', 'encodeReadyForQuery',
      'encodeErrorResponse', 'encodeNoticeResponse', 'encodeRowDescription', 'encodeDataRow', 'encodeCommandComplete', 'encodeEmptyQueryResponse',
    ];
    for (const n of names) expect(typeof (codec as Record<string, unknown>)[n], n).toBe('function');
    expect(codec.FrontendCode.Query).toBe(0x51);
    expect(codec.BackendCode.ReadyForQuery).toBe(0x5a);
    expect(codec.PROTOCOL_3).toBe(196608);
  });
});
