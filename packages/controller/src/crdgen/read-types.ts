/**
 * Reads the API's TypeScript declarations with the compiler API and turns each kind into a
 * structural schema. The declarations are the single source of truth: an optional property is
 * optional in the schema, a string-literal union is an enum, the scalar aliases in
 * api/scalars.ts pick integer formats and int-or-string, and JSDoc tags add constraints.
 *
 * Kubernetes wants every nested object inlined (no $ref), so referenced interfaces are
 * expanded where they are used.
 * @module
 */
import ts from 'typescript';
import type { JsonSchema, KindModel, PrinterColumn, ScaleSubresource } from './schema.js';

const SCALAR_ALIASES: Record<string, JsonSchema> = {
  int32: { type: 'integer', format: 'int32' },
  int64: { type: 'integer', format: 'int64' },
  Quantity: { 'x-kubernetes-int-or-string': true },
  Duration: { type: 'string' },
  DateTime: { type: 'string', format: 'date-time' },
  Unstructured: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
};

/** Properties every object has; the apiserver owns metadata's schema. */
const OBJECT_ENVELOPE: Record<string, JsonSchema> = {
  apiVersion: { type: 'string', description: 'Versioned schema of this representation of an object.' },
  kind: { type: 'string', description: 'The REST resource this object represents, in CamelCase.' },
  metadata: { type: 'object' },
};

export class TypeReadError extends Error {
  override name = 'TypeReadError';
}

/** Every interface tagged `@kind` in `files`, in file order. */
export function readKinds(files: readonly string[]): KindModel[] {
  const program = ts.createProgram([...files], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  });
  const reader = new SchemaReader(program.getTypeChecker());
  const kinds: KindModel[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file);
    if (!source) throw new TypeReadError(`cannot read ${file}`);
    for (const statement of source.statements) {
      if (ts.isInterfaceDeclaration(statement) && tag(statement, 'kind') !== undefined) {
        kinds.push(reader.kind(statement));
      }
    }
  }
  return kinds;
}

class SchemaReader {
  constructor(private readonly checker: ts.TypeChecker) {}

  kind(decl: ts.InterfaceDeclaration): KindModel {
    const kind = tag(decl, 'kind') ?? decl.name.text;
    const plural = tag(decl, 'plural') ?? `${kind.toLowerCase()}s`;
    const own = this.objectFromMembers(decl.members, kind);
    const properties = { ...OBJECT_ENVELOPE, ...own.properties };
    const schema: JsonSchema = { type: 'object', properties };
    const description = docText(this.checker, decl);
    if (description) schema.description = description;
    if (own.required?.length) schema.required = own.required;
    return {
      kind,
      plural,
      description,
      printerColumns: tags(decl, 'printcolumn').map((t) => printerColumn(t, kind)),
      scale: scale(tag(decl, 'scale'), kind),
      schema,
    };
  }

  private objectFromMembers(members: ts.NodeArray<ts.TypeElement>, where: string): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const member of members) {
      if (!ts.isPropertySignature(member) || !member.type) {
        throw new TypeReadError(`${where}: only plain properties are supported`);
      }
      const name = propertyName(member.name, where);
      const at = `${where}.${name}`;
      properties[name] = this.withTags(this.fromTypeNode(member.type, at), member, at);
      if (!member.questionToken) required.push(name);
    }
    const schema: JsonSchema = { type: 'object', properties };
    if (required.length > 0) schema.required = required;
    return schema;
  }

  private fromTypeNode(node: ts.TypeNode, at: string): JsonSchema {
    if (ts.isParenthesizedTypeNode(node)) return this.fromTypeNode(node.type, at);
    switch (node.kind) {
      case ts.SyntaxKind.StringKeyword:
        return { type: 'string' };
      case ts.SyntaxKind.BooleanKeyword:
        return { type: 'boolean' };
      case ts.SyntaxKind.NumberKeyword:
        return { type: 'number' };
    }
    if (ts.isArrayTypeNode(node)) return { type: 'array', items: this.fromTypeNode(node.elementType, `${at}[]`) };
    if (ts.isTypeLiteralNode(node)) return this.objectFromMembers(node.members, at);
    if (ts.isUnionTypeNode(node)) return this.fromUnion(node, at);
    if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal)) {
      return { type: 'string', enum: [node.literal.text] };
    }
    if (ts.isTypeReferenceNode(node)) return this.fromReference(node, at);
    throw new TypeReadError(`${at}: unsupported type ${ts.SyntaxKind[node.kind]}`);
  }

  private fromUnion(node: ts.UnionTypeNode, at: string): JsonSchema {
    const members = node.types.filter(
      (t) =>
        t.kind !== ts.SyntaxKind.UndefinedKeyword &&
        !(ts.isLiteralTypeNode(t) && t.literal.kind === ts.SyntaxKind.NullKeyword),
    );
    const literals = members.map((t) =>
      ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal) ? t.literal.text : undefined,
    );
    if (literals.every((l) => l !== undefined)) return { type: 'string', enum: literals };
    if (members.length === 1 && members[0]) return this.fromTypeNode(members[0], at);
    throw new TypeReadError(`${at}: only unions of string literals are supported`);
  }

  private fromReference(node: ts.TypeReferenceNode, at: string): JsonSchema {
    const name = ts.isIdentifier(node.typeName) ? node.typeName.text : node.typeName.right.text;
    const scalar = SCALAR_ALIASES[name];
    if (scalar) return { ...scalar };
    const args = node.typeArguments ?? [];
    if (name === 'Array' && args[0]) return { type: 'array', items: this.fromTypeNode(args[0], `${at}[]`) };
    if (name === 'Record' && args[1]) {
      return { type: 'object', additionalProperties: this.fromTypeNode(args[1], `${at}{}`) };
    }
    const decl = this.declarationOf(node.typeName);
    if (decl && ts.isInterfaceDeclaration(decl)) {
      if (decl.heritageClauses?.length) throw new TypeReadError(`${at}: ${name} extends another type`);
      const schema = this.objectFromMembers(decl.members, name);
      const description = docText(this.checker, decl);
      if (description) schema.description = description;
      return schema;
    }
    if (decl && ts.isTypeAliasDeclaration(decl)) return this.fromTypeNode(decl.type, at);
    throw new TypeReadError(`${at}: cannot resolve ${name}`);
  }

  private declarationOf(name: ts.EntityName): ts.Declaration | undefined {
    let symbol = this.checker.getSymbolAtLocation(name);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
    return symbol?.declarations?.[0];
  }

  private withTags(schema: JsonSchema, member: ts.PropertySignature, at: string): JsonSchema {
    const out: JsonSchema = { ...schema };
    const description = docText(this.checker, member);
    if (description) out.description = description;
    for (const [name, value] of allTags(member)) {
      switch (name) {
        case 'default':
          out.default = parseJson(value, at);
          break;
        case 'minimum':
        case 'maximum':
        case 'minLength':
        case 'maxLength':
          out[name] = Number(value);
          if (!Number.isFinite(out[name])) throw new TypeReadError(`${at}: @${name} needs a number`);
          break;
        case 'pattern':
          new RegExp(value);
          out.pattern = value;
          break;
        case 'format':
          out.format = value;
          break;
        case 'nullable':
          out.nullable = true;
          break;
        default:
          throw new TypeReadError(`${at}: unknown tag @${name}`);
      }
    }
    return out;
  }
}

function propertyName(name: ts.PropertyName, where: string): string {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name)) return name.text;
  throw new TypeReadError(`${where}: computed property names are not supported`);
}

function allTags(node: ts.Node): Array<[string, string]> {
  return ts.getJSDocTags(node).map((t) => [t.tagName.text, (ts.getTextOfJSDocComment(t.comment) ?? '').trim()]);
}

function tags(node: ts.Node, name: string): string[] {
  return allTags(node)
    .filter(([n]) => n === name)
    .map(([, v]) => v);
}

function tag(node: ts.Node, name: string): string | undefined {
  return tags(node, name)[0];
}

function docText(checker: ts.TypeChecker, node: ts.Declaration & { name?: ts.Node }): string | undefined {
  const symbol = node.name ? checker.getSymbolAtLocation(node.name) : undefined;
  const text = symbol ? ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() : '';
  return text === '' ? undefined : text.replace(/\s*\n\s*/g, ' ');
}

function parseJson(value: string, at: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new TypeReadError(`${at}: @default must be JSON, got ${value}`);
  }
}

const COLUMN_TYPES = new Set(['string', 'integer', 'number', 'boolean', 'date']);

function printerColumn(text: string, kind: string): PrinterColumn {
  const [name, type, jsonPath] = text.split(/\s+/);
  if (!name || !type || !jsonPath || !COLUMN_TYPES.has(type)) {
    throw new TypeReadError(`${kind}: @printcolumn wants "<Name> <type> <.json.path>", got "${text}"`);
  }
  return { name, type: type as PrinterColumn['type'], jsonPath };
}

function scale(text: string | undefined, kind: string): ScaleSubresource | undefined {
  if (text === undefined) return undefined;
  const [specReplicasPath, statusReplicasPath] = text.split(/\s+/);
  if (!specReplicasPath || !statusReplicasPath) {
    throw new TypeReadError(`${kind}: @scale wants "<.spec.path> <.status.path>"`);
  }
  return { specReplicasPath, statusReplicasPath };
}
