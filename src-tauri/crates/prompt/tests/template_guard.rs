//! The checks that bound a template's memory (`template/bounds.rs`) change nothing for a template
//! that means no harm: its source is rewritten, so every construct the rewrite touches renders
//! here exactly as plain minijinja renders it. And real templates through long conversations stay
//! far inside the fuel they are given.

use std::path::PathBuf;

use prompt::template::{ChatTemplate, TemplateInputs, FUEL};
use minijinja::syntax::SyntaxConfig;
use types::{ChatMessage, ChatRole};

fn conversation(turns: usize, words: usize) -> Vec<ChatMessage> {
    let mut m = vec![ChatMessage::new(ChatRole::System, "You are a terse assistant.")];
    for i in 0..turns {
        let text = format!("Turn {i}: <{}> \"quoted\" & 'done'\n", "word ".repeat(words));
        m.push(ChatMessage::new(if i % 2 == 0 { ChatRole::User } else { ChatRole::Assistant }, text));
    }
    m
}

fn inputs(messages: &[ChatMessage]) -> TemplateInputs<'_> {
    TemplateInputs { messages, add_generation_prompt: true, bos_token: "<s>", eos_token: "</s>", tools: None }
}

/// The same template through minijinja as it comes, with the settings `ChatTemplate` uses.
fn plain(source: &str, messages: &[ChatMessage]) -> String {
    let mut env = minijinja::Environment::new();
    env.set_syntax(SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build().expect("syntax"));
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_template("t", source).expect("compiles");
    let ctx = minijinja::context! {
        messages => minijinja::Value::from_iter(messages.iter().map(|m| minijinja::context! { role => m.role.as_str(), content => m.content.clone() })),
        add_generation_prompt => true,
        bos_token => "<s>",
        eos_token => "</s>",
    };
    env.get_template("t").expect("template").render(ctx).expect("renders")
}

/// Every construct the rewrite wraps, in the shapes templates write them.
const SAME_AS_PLAIN: &[&str] = &[
    "{{ 'a' ~ 1 ~ [1, 'b'] ~ {'k': none} ~ (2 + 3) }}",
    "{{ ('a' ~ 'b') ~ ('c'|upper) ~ messages[0].content[:5] ~ messages|length }}",
    "{% for m in messages %}{{ '<|' ~ m.role ~ '|>' ~ m.content|trim ~ ('\\n' if not loop.last else '') }}{% endfor %}",
    "{{ 'x' in 'xyz' }} {{ ('y' ~ 'z') in 'xyz' }} {{ 'q' not in messages[0].content }}",
    "{% filter upper %}hi {{ messages[0].role }}{% endfilter %}{% set s | lower %}AB{% endset %}{{ s }}",
    "{{ 'a,b'|split(',')|join('-') }} {{ 'l1\\nl2'|lines|list }} {{ 'a b'.split()|join('+') }} {{ 'x\\ny'.splitlines() }}",
    "{{ '{:>5}|{}'.format('x', 3) }} {{ '%s-%05d'|format('a', 7) }} {{ '-'.join(['a', 'b']) }}",
    "{{ {'a': [1, 'two', none]}|tojson }} {{ messages|tojson(indent=2) }} {{ [1]|tojson(true) }}",
    "{{ messages[0].content is string }} {{ 'abc' is startingwith('a') }} {{ messages|selectattr('role', 'equalto', 'user')|list|length }}",
    "{{ messages|map(attribute='role')|join(', ') }} {{ messages|map('string')|first|length }} {{ (messages|first).content|e }}",
    "{% macro m(x, y='d') %}[{{ x ~ y }}]{% endmacro %}{{ m('a') }}{{ m(x='b', y='c') }}",
    "{% macro c(x) %}<{{ caller() ~ x }}>{% endmacro %}{% call c('z') %}in {{ messages[0].role }}{% endcall %}",
    "{% set ns = namespace(out='') %}{% for m in messages %}{% set ns.out = ns.out ~ m.role[0] %}{% endfor %}{{ ns.out }}",
    "{{ messages[-1].content.strip().upper()|title|capitalize }} {{ messages[0].content.startswith('You') }}",
    "{%- if messages[0]['role'] == 'system' -%}{{ '[' ~ messages[0]['content']|indent(2) ~ ']' }}{%- endif %}",
    "{{ [1, 2, 3]|sum ~ '' ~ ([3, 1]|sort|first) ~ (messages|last).role|default('none') }}",
];

#[test]
fn the_guard_changes_no_output() {
    let messages = conversation(4, 3);
    for source in SAME_AS_PLAIN {
        let guarded = ChatTemplate::new(source).and_then(|t| t.render(&inputs(&messages))).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(guarded, plain(source, &messages), "{source}");
    }
}

#[test]
fn real_templates_render_as_plain_minijinja_does() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates");
    let messages = conversation(6, 20);
    for name in ["chatml", "llama3", "gemma3", "mistral"] {
        let source = std::fs::read_to_string(dir.join(format!("{name}.jinja"))).expect("fixture");
        let guarded = ChatTemplate::new(&source).and_then(|t| t.render(&inputs(&messages))).unwrap_or_else(|e| panic!("{name}: {e}"));
        // llama3's template asks for today's date, which plain minijinja has no function for.
        if name != "llama3" {
            assert_eq!(guarded, plain(&source, &messages), "{name}");
        }
    }
}

/// A conversation longer than most contexts (2000 turns, about 2 MB of text, half a million
/// tokens) takes well under half the fuel through every real template, so the limit stops only
/// hostile templates.
#[test]
fn a_very_long_conversation_takes_well_under_half_the_fuel() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates");
    let messages = conversation(2000, 200);
    let bytes: usize = messages.iter().map(|m| m.content.len()).sum();
    for name in ["chatml", "llama3", "gemma3", "mistral"] {
        let source = std::fs::read_to_string(dir.join(format!("{name}.jinja"))).expect("fixture");
        let template = ChatTemplate::new(&source).expect("compiles");
        let (prompt, fuel) = template.render_measured(&inputs(&messages)).unwrap_or_else(|e| panic!("{name}: {e}"));
        println!("{name}: {} messages, {bytes} bytes in, {} bytes out, {fuel} fuel of {FUEL}", messages.len(), prompt.len());
        assert!(fuel < FUEL / 2, "{name} took {fuel} fuel");
    }
}
