use super::*;

const S: &str = "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = [\"acme\"]\n";

#[test]
fn probe() {
    let cases: Vec<(&str, String)> = vec![
        ("dup key", "[report]\ntitle = \"x\"\ntitle = \"y\"\n".into()),
        ("dup table", "[report]\ntitle = \"x\"\n[report]\nfail_on = \"low\"\n".into()),
        ("sources table", "[sources]\ntype = \"sentry\"\n".into()),
        ("2nd no type", format!("{S}\n[[sources]]\nname = \"b\"\napi_key_env = \"K\"\n")),
        ("inline", "sources = [\n  { type = \"sentry\", token_env = \"T\", organizations = \"all\" },\n  { type = \"sentdm\", api_key_env = \"K\", profiles = \"some\" },\n]\n".into()),
        ("inline dup", "sources = [\n  { type = \"sentry\", token_env = \"T\", organizations = \"all\" },\n  { type = \"sentry\", token_env = \"K\", organizations = \"all\" },\n]\n".into()),
        ("dotted", "rules.stale_login.max_inactive_days = 0\n".into()),
        ("float days", "[rules.stale_login]\nmax_inactive_days = 1.5\n".into()),
        ("big days", "[rules.stale_login]\nmax_inactive_days = 99999\n".into()),
        ("grace 0", "[rules.stale_login]\ngrace_days = 0\n".into()),
        ("title empty", "[report]\ntitle = \"  \"\n".into()),
        ("name slash", format!("{S}name = \"a/b\"\n")),
        ("projects empty", format!("{S}projects = []\n")),
        ("projects bad", format!("{S}projects = [123, \"12a\"]\n")),
        ("rpm 0", format!("{S}requests_per_minute = 0\n")),
        ("burst 0", format!("{S}burst = 0\n")),
        ("timeout 0", format!("{S}request_timeout = \"0s\"\n")),
        ("from bad", "[email]\nfrom = \"Audit <audit>\"\n".into()),
        ("smtp both", "[email]\nsmtp_url_env = \"A\"\nsmtp_url_file = \"/x\"\n".into()),
        ("attach bad", "[email]\nattach = [\"pdf\"]\n".into()),
        ("ftp", format!("{S}base_url = \"ftp://sentry.io\"\n")),
        ("query", format!("{S}base_url = \"https://sentry.io/?x=1\"\n")),
        ("notaurl", format!("{S}base_url = \"sentry.io\"\n")),
        ("localhost.evil", format!("{S}base_url = \"http://localhost.evil.com\"\n")),
        ("http creds loop", format!("{S}base_url = \"http://u:p@127.0.0.1:1\"\n")),
        ("sev caps", "[rules.stale_login]\nseverity = \"High\"\n".into()),
        ("failon caps", "[report]\nfail_on = \"High\"\n".into()),
        ("env digit", "[[sources]]\ntype = \"sentry\"\ntoken_env = \"1TOKEN\"\norganizations = \"all\"\n".into()),
        ("env empty", "[[sources]]\ntype = \"sentry\"\ntoken_env = \"\"\norganizations = \"all\"\n".into()),
        ("orgs int", "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = 5\n".into()),
        ("type int", "[[sources]]\ntype = 5\n".into()),
        ("enabled str", "[rules.admin_without_2fa]\nenabled = \"yes\"\n".into()),
        ("formats str", "[report]\nformats = \"html\"\n".into()),
    ];
    for (name, text) in cases {
        match Config::parse(&text, Some(Path::new("audit.toml"))) {
            Ok(_) => println!("{name}: OK"),
            Err(e) => println!("{name}: key={:?} line={:?} msg={:?}\n    {}", e.key, e.line, e.message, e),
        }
    }
    panic!();
}
