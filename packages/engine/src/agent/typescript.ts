/** TypeScript cells run on the JavaScript kernel after their types are stripped here, on the host. */
import ts from 'typescript';

export function transpileTypeScript(code: string): string {
  return ts.transpileModule(code, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None, removeComments: false },
    reportDiagnostics: false,
  }).outputText;
}
