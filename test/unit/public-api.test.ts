/**
 * The public surface, pinned: a change to what the package exports (values and types) must show up
 * here, in review, and in the CHANGELOG.
 */
import path from 'node:path';
import ts from 'typescript';

function exportedNames(entry: string): string[] {
  const file = path.join(__dirname, '../../lib', entry);
  const program = ts.createProgram([file], {
    strict: true,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  return checker
    .getExportsOfModule(checker.getSymbolAtLocation(source)!)
    .map((s) => s.name)
    .sort();
}

test('the main entry point exports exactly these names', () => {
  expect(exportedNames('index.ts')).toEqual([
    'IdTokenError',
    'KakaoAccessTokenInfo',
    'KakaoAccount',
    'KakaoAccountProfile',
    'KakaoAdminClient',
    'KakaoAdminClientOptions',
    'KakaoApiError',
    'KakaoAuthOptions',
    'KakaoAuthOptionsWithStrategy',
    'KakaoAuthOptionsWithStrategyOptions',
    'KakaoAuthRouteOptions',
    'KakaoAuthRouter',
    'KakaoAuthenticateOptions',
    'KakaoClient',
    'KakaoClientOptions',
    'KakaoError',
    'KakaoErrorCode',
    'KakaoErrorHandlerOptions',
    'KakaoGetUserOptions',
    'KakaoListUserIdsOptions',
    'KakaoLogEvent',
    'KakaoLogLevel',
    'KakaoLogger',
    'KakaoLoginFailure',
    'KakaoLoginFailureCode',
    'KakaoOidcUserInfo',
    'KakaoProfile',
    'KakaoPrompt',
    'KakaoResponseError',
    'KakaoResponseFailure',
    'KakaoRevokedServiceTerms',
    'KakaoRouteError',
    'KakaoScope',
    'KakaoScopes',
    'KakaoServiceTerm',
    'KakaoServiceTerms',
    'KakaoSessionError',
    'KakaoSessionUser',
    'KakaoStrategy',
    'KakaoStrategyOptions',
    'KakaoStrategyOptionsBase',
    'KakaoStrategyOptionsWithRequest',
    'KakaoTokenError',
    'KakaoTokenResponse',
    'KakaoTokenSet',
    'KakaoTokens',
    'KakaoUserIdsPage',
    'KakaoUserMeResponse',
    'KakaoVerifyCallback',
    'KakaoVerifyFunction',
    'KakaoVerifyFunctionWithRequest',
    'LOGIN_FAILURE_MESSAGES',
    'LoginKey',
    'MarkerStore',
    'MemoryTokenStore',
    'MemoryTokenStoreOptions',
    'ReauthRequiredError',
    'RecordWriteOptions',
    'RedisClientLike',
    'RedisTokenStore',
    'RedisTokenStoreOptions',
    'SealContext',
    'StartupWarning',
    'StartupWarningCode',
    'StoredLogin',
    'TokenCipher',
    'TokenCipherKey',
    'TokenDecryptionError',
    'TokenKeyUnknownError',
    'TokenStore',
    'TokenStoreError',
    'UnlinkEvent',
    'UnlinkWebhookOptions',
    'WriteOptions',
    'apiErrorConfigurationHint',
    'consoleLogger',
    'createConsoleLogger',
    'createTokenCipher',
    'createUnlinkWebhookHandler',
    'generateKeyRing',
    'isKakaoError',
    'kakaoAuth',
    'kakaoErrorHandler',
    'parseKeyRing',
    'parseProfile',
    'sanitizeReturnTo',
    'silentLogger',
    'startupWarnings',
    'statusForError',
    'tokenErrorConfigurationHint',
  ]);
});

test('the testing entry point exports exactly these names', () => {
  expect(exportedNames('testing/index.ts')).toMatchInlineSnapshot(`
   [
     "DEFAULT_CONSENT_ITEMS",
     "EMULATOR_ENDPOINTS",
     "EmulatorEndpoint",
     "EmulatorFault",
     "EmulatorIdTokenFault",
     "EmulatorRequest",
     "EmulatorStrategyOptions",
     "EmulatorUser",
     "EmulatorUserInit",
     "KakaoEmulator",
     "KakaoEmulatorOptions",
     "LoginAgent",
     "LoginAgentRequest",
     "LoginAgentResponse",
     "LoginAsOptions",
     "SEEDED_USERS",
     "createKakaoEmulator",
   ]
  `);
});
