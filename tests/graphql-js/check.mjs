// graphql-js checks the Rust tests run (`node check.mjs COMMAND ...`):
//
//   introspection-query          prints the full introspection query (schema description,
//                                specifiedByURL, repeatable directives, deprecated inputs)
//   compare SDL_FILE JSON_FILE   the committed SDL against a live introspection result: no
//                                breaking or dangerous change either way, and the same
//                                printed schema (descriptions included); exit 1 with the
//                                differences otherwise
//   documents SDL_FILE WEB_DIR   every GraphQL document of the desktop (WEB_DIR/graphql), built
//                                with its fragments by the desktop's own WEB_DIR/js/documents.js,
//                                parsed and validated against the SDL; exit 1 with the errors
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  buildClientSchema,
  buildSchema,
  findBreakingChanges,
  findDangerousChanges,
  getIntrospectionQuery,
  lexicographicSortSchema,
  parse,
  printSchema,
  validate,
} from "graphql";

const FULL = {
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
};

const [command, ...args] = process.argv.slice(2);

if (command === "introspection-query") {
  process.stdout.write(getIntrospectionQuery(FULL));
} else if (command === "compare") {
  const [sdlFile, jsonFile] = args;
  const file = buildSchema(readFileSync(sdlFile, "utf8"));
  const response = JSON.parse(readFileSync(jsonFile, "utf8"));
  if (response.errors) {
    console.error("the introspection failed:", JSON.stringify(response.errors));
    process.exit(1);
  }
  const live = buildClientSchema(response.data);
  const problems = [];
  for (const [from, to, direction] of [
    [file, live, "schema.graphql -> served"],
    [live, file, "served -> schema.graphql"],
  ]) {
    for (const change of [...findBreakingChanges(from, to), ...findDangerousChanges(from, to)]) {
      problems.push(`${direction}: ${change.type}: ${change.description}`);
    }
  }
  const printed = (schema) => printSchema(lexicographicSortSchema(schema));
  const [a, b] = [printed(file), printed(live)];
  if (a !== b) {
    const left = a.split("\n");
    const right = b.split("\n");
    const at = left.findIndex((line, i) => line !== right[i]);
    problems.push(
      `printed schemas differ at line ${at + 1}:\n  schema.graphql: ${left[at]}\n  served:         ${right[at]}`,
    );
  }
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    process.exit(1);
  }
} else if (command === "documents") {
  const [sdlFile, webDir] = args;
  const schema = buildSchema(readFileSync(sdlFile, "utf8"));
  const { parseFragments, withFragments, DOCUMENTS } = await import(pathToFileURL(join(webDir, "js/documents.js")).href);
  const dir = join(webDir, "graphql");
  const fragments = parseFragments(readFileSync(join(dir, "fragments.graphql"), "utf8"));
  const files = readdirSync(dir).filter((f) => f.endsWith(".graphql") && f !== "fragments.graphql").map((f) => f.slice(0, -8)).sort();
  const problems = [];
  const listed = [...DOCUMENTS].sort();
  if (JSON.stringify(files) !== JSON.stringify(listed)) {
    problems.push(`documents.js lists ${listed.join(", ")} but the folder holds ${files.join(", ")}`);
  }
  for (const name of files) {
    try {
      const document = parse(withFragments(readFileSync(join(dir, `${name}.graphql`), "utf8"), fragments));
      const operations = document.definitions.filter((d) => d.kind === "OperationDefinition");
      if (operations.length !== 1 || operations[0].name?.value !== name) {
        problems.push(`${name}.graphql: one operation named ${name}`);
      }
      for (const error of validate(schema, document)) problems.push(`${name}.graphql: ${error.message}`);
    } catch (error) {
      problems.push(`${name}.graphql: ${error.message}`);
    }
  }
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    process.exit(1);
  }
  console.log(`${files.length} documents valid`);
} else {
  console.error(`unknown command ${command}`);
  process.exit(2);
}
