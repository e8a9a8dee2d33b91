//! Realistic values of the kinds a generator varies, each valid for the rules that check it.

use rand::{Rng, RngExt as _};
use serde_json::Value;
use strum::VariantNames as _;

/// A kind of value, named in `generate.toml` as `given-name`, `nhs-number`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case", parse_err_ty = String, parse_err_fn = unknown_kind)]
pub enum Kind {
    GivenName,
    FamilyName,
    FullName,
    NhsNumber,
    Upn,
    Postcode,
    Uuid,
    Sentence,
    Phone,
}

fn unknown_kind(text: &str) -> String {
    format!("unknown kind `{text}` (expected {})", Kind::VARIANTS.join(", "))
}

const GIVEN: &[&str] = &[
    "Amelia", "Oliver", "Isla", "Noah", "Ava", "Leo", "Mia", "Arthur", "Ivy", "Muhammad", "Freya", "George", "Aisha",
    "Theo", "Zara", "Jacob", "Poppy", "Harry", "Maryam", "Alfie", "Evie", "Oscar", "Grace", "Reuben", "Lily",
];
const FAMILY: &[&str] = &[
    "Testchild",
    "Example",
    "Sample",
    "Fictional",
    "Placeholder",
    "Madeup",
    "Synthetic",
    "Dummy",
    "Specimen",
    "Mockford",
    "Pretendly",
    "Notreal",
];
const POSTCODES: &[&str] = &[
    "SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "LS1 4AP", "NE1 7RU", "BS1 4ST", "L1 8JQ", "EC1A 1BB",
    "W1A 0AX", "PL4 8AA",
];
const SENTENCES: &[&str] = &[
    "The child has told a teacher that there is often no food at home and has been seen taking food from other pupils.",
    "Neighbours report frequent shouting late at night and the child has been seen outside alone after 10pm.",
    "The child has missed a third of school sessions this term and appears withdrawn when asked about home.",
    "A health visitor is concerned that the baby's weight has fallen and appointments have been missed twice.",
    "Police attended a domestic incident at the address; the child was present and appeared frightened.",
    "The young person disclosed that an older acquaintance has been giving them gifts and asking them to carry packages.",
];

impl Kind {
    /// Whether the value may be changed in a document that carries a deliberate fault (identifiers whose check
    /// the fault may be about are kept as the template has them).
    pub fn safe_in_faults(self) -> bool {
        !matches!(self, Kind::NhsNumber | Kind::Upn | Kind::Postcode | Kind::Phone)
    }

    pub fn generate(self, rng: &mut impl Rng, _old: &Value) -> Value {
        let pick =
            |rng: &mut dyn rand::Rng, list: &[&str]| -> String { list[rng.random_range(0..list.len())].to_string() };
        Value::String(match self {
            Kind::GivenName => pick(rng, GIVEN),
            Kind::FamilyName => pick(rng, FAMILY),
            Kind::FullName => format!("{} {}", pick(rng, GIVEN), pick(rng, FAMILY)),
            Kind::NhsNumber => nhs_number(rng),
            Kind::Upn => upn(rng),
            Kind::Postcode => pick(rng, POSTCODES),
            Kind::Uuid => uuid(rng),
            Kind::Sentence => pick(rng, SENTENCES),
            Kind::Phone => format!("0{} {}", rng.random_range(1000..9999), rng.random_range(100000..999999)),
        })
    }
}

/// A 10-digit NHS number with a valid Modulus 11 check digit (from the 999 range set aside for testing).
pub fn nhs_number(rng: &mut (impl Rng + ?Sized)) -> String {
    loop {
        let mut digits = [9u32, 9, 9, 0, 0, 0, 0, 0, 0];
        for d in digits.iter_mut().skip(3) {
            *d = rng.random_range(0..10);
        }
        let sum: u32 = digits.iter().enumerate().map(|(i, d)| d * (10 - i as u32)).sum();
        let check = 11 - (sum % 11);
        let check = if check == 11 { 0 } else { check };
        if check == 10 {
            continue;
        }
        return digits
            .iter()
            .map(|d| char::from(b'0' + *d as u8))
            .chain(std::iter::once(char::from(b'0' + check as u8)))
            .collect();
    }
}

const UPN_LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRTUVWXYZ";

/// A DfE unique pupil number: check letter, LA code, establishment, year, serial.
pub fn upn(rng: &mut (impl Rng + ?Sized)) -> String {
    let la = [201u32, 202, 318, 873, 330, 805][rng.random_range(0..6)];
    let mut body = format!(
        "{la:03}{:04}{:02}{:03}",
        rng.random_range(1000..7000),
        rng.random_range(10..26),
        rng.random_range(0..1000)
    );
    body.truncate(12);
    let sum: u32 = body.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * (i as u32 + 2)).sum();
    let letter = UPN_LETTERS[(sum % 23) as usize] as char;
    format!("{letter}{body}")
}

pub fn uuid(rng: &mut (impl Rng + ?Sized)) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}
