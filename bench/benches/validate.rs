//! Reading a 1 KiB document and validating it against a 30-property schema,
//! as Onramp does for every record.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use roadroller_bench::scenarios::validation_case;

fn validate(c: &mut Criterion) {
    let (schema, document) = validation_case();
    let text = document.to_string();
    let compiled =
        roadroller_server::schema::compile(&schema.to_string()).expect("the schema compiles");
    let mut group = c.benchmark_group("schema");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse and validate 1 KiB, 30 properties", |b| {
        b.iter(|| {
            let document = roadroller_server::onramp::json::parse(std::hint::black_box(&text));
            assert!(document.is_ok_and(|d| compiled.validator.is_valid(&d)));
        });
    });
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
