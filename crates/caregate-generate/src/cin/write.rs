//! A census return's XML, written by hand child by child (so that a return of any size streams): every value
//! is escaped; dates are written as the census has them.

use super::*;

pub(super) fn indent(buf: &mut String, depth: usize) {
    for _ in 0..depth {
        buf.push_str("  ");
    }
}

pub(super) fn leaf(buf: &mut String, depth: usize, name: &str, value: &str) {
    indent(buf, depth);
    buf.push('<');
    buf.push_str(name);
    buf.push('>');
    caregate_engine::instance::to_xml::escape_text_into(value, buf);
    buf.push_str("</");
    buf.push_str(name);
    buf.push_str(">\n");
}

pub(super) fn leaf_opt(buf: &mut String, depth: usize, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        leaf(buf, depth, name, value);
    }
}

pub(super) fn leaf_date(buf: &mut String, depth: usize, name: &str, value: Option<NaiveDate>) {
    if let Some(d) = value {
        indent(buf, depth);
        let _ = writeln!(buf, "<{name}>{:04}-{:02}-{:02}</{name}>", d.year(), d.month(), d.day());
    }
}

pub(super) fn open(buf: &mut String, depth: usize, name: &str) {
    indent(buf, depth);
    buf.push('<');
    buf.push_str(name);
    buf.push_str(">\n");
}

pub(super) fn close(buf: &mut String, depth: usize, name: &str) {
    indent(buf, depth);
    buf.push_str("</");
    buf.push_str(name);
    buf.push_str(">\n");
}

pub(super) fn write_child(c: &Child<'_>, buf: &mut String) {
    open(buf, 2, "Child");
    open(buf, 3, "ChildIdentifiers");
    leaf_opt(buf, 4, "LAchildID", c.id.as_deref());
    leaf_opt(buf, 4, "UPN", c.upn.as_deref());
    leaf_opt(buf, 4, "FormerUPN", c.former_upn.as_deref());
    leaf_opt(buf, 4, "UPNunknown", c.upn_unknown);
    leaf_date(buf, 4, "PersonBirthDate", c.birth);
    leaf_date(buf, 4, "ExpectedPersonBirthDate", c.expected);
    leaf_opt(buf, 4, "Sex", c.sex);
    leaf_date(buf, 4, "PersonDeathDate", c.death);
    close(buf, 3, "ChildIdentifiers");
    open(buf, 3, "ChildCharacteristics");
    leaf_opt(buf, 4, "Ethnicity", c.ethnicity);
    if let Some(list) = &c.disabilities {
        open(buf, 4, "Disabilities");
        for d in list {
            leaf(buf, 5, "Disability", d);
        }
        close(buf, 4, "Disabilities");
    }
    close(buf, 3, "ChildCharacteristics");
    for e in &c.episodes {
        write_episode(e, buf);
    }
    close(buf, 2, "Child");
}

pub(super) fn write_episode(e: &Episode<'_>, buf: &mut String) {
    open(buf, 3, "CINdetails");
    leaf_date(buf, 4, "CINreferralDate", Some(e.referral));
    leaf(buf, 4, "ReferralSource", e.source);
    leaf_opt(buf, 4, "PrimaryNeedCode", e.need);
    leaf_date(buf, 4, "CINclosureDate", e.closure);
    leaf_opt(buf, 4, "ReasonForClosure", e.reason);
    leaf_date(buf, 4, "DateOfInitialCPC", e.icpc);
    for a in &e.assessments {
        open(buf, 4, "Assessments");
        leaf_date(buf, 5, "AssessmentActualStartDate", Some(a.start));
        leaf_date(buf, 5, "AssessmentInternalReviewDate", a.review);
        leaf_date(buf, 5, "AssessmentAuthorisationDate", a.auth);
        if let Some(factors) = &a.factors {
            open(buf, 5, "FactorsIdentifiedAtAssessment");
            for f in factors {
                leaf(buf, 6, "AssessmentFactors", f);
            }
            close(buf, 5, "FactorsIdentifiedAtAssessment");
        }
        close(buf, 4, "Assessments");
    }
    for p in &e.plans {
        open(buf, 4, "CINPlanDates");
        leaf_date(buf, 5, "CINPlanStartDate", Some(p.start));
        leaf_date(buf, 5, "CINPlanEndDate", p.end);
        close(buf, 4, "CINPlanDates");
    }
    for s in &e.s47 {
        open(buf, 4, "Section47");
        leaf_date(buf, 5, "S47ActualStartDate", Some(s.start));
        leaf_date(buf, 5, "InitialCPCtarget", s.target);
        leaf_date(buf, 5, "DateOfInitialCPC", s.icpc);
        leaf(buf, 5, "ICPCnotRequired", s.not_required);
        close(buf, 4, "Section47");
    }
    leaf_opt(buf, 4, "ReferralNFA", e.nfa);
    for p in &e.cpps {
        open(buf, 4, "ChildProtectionPlans");
        leaf_date(buf, 5, "CPPstartDate", Some(p.start));
        leaf_date(buf, 5, "CPPendDate", p.end);
        leaf(buf, 5, "InitialCategoryOfAbuse", p.initial);
        leaf(buf, 5, "LatestCategoryOfAbuse", p.latest);
        if let Some(n) = p.previous {
            leaf(buf, 5, "NumberOfPreviousCPP", &n.to_string());
        }
        if !p.reviews.is_empty() {
            open(buf, 5, "Reviews");
            for r in &p.reviews {
                match r {
                    Some(_) => leaf_date(buf, 6, "CPPreviewDate", *r),
                    None => leaf(buf, 6, "CPPreviewDate", ""),
                }
            }
            close(buf, 5, "Reviews");
        }
        close(buf, 4, "ChildProtectionPlans");
    }
    close(buf, 3, "CINdetails");
}
