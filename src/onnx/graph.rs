//! A small builder for ONNX graphs over the prost-generated messages: named
//! inputs and outputs, nodes with typed attributes, constant initializers and
//! fresh tensor names. The model writer appends to it, and so can whoever
//! puts preprocessing in front of the model (one graph, many writers). The
//! constants name the format both directions speak: the writer declares
//! them, the reader knows the classical-ML operators by [`ML_DOMAIN`].

use super::proto::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};

/// IR version written: ONNX IR 8 goes with opset 17 (ONNX 1.12), which
/// every onnxruntime since 1.12 loads.
pub const IR_VERSION: i64 = 8;
/// Opset of the default domain (`ai.onnx`).
pub const OPSET: i64 = 17;
/// Opset of the classical-ML domain: `TreeEnsembleClassifier`,
/// `TreeEnsembleRegressor` and `LinearClassifier` as of ai.onnx.ml 3.
pub const OPSET_ML: i64 = 3;
pub const ML_DOMAIN: &str = "ai.onnx.ml";

/// An ONNX graph under construction.
#[derive(Debug, Clone)]
pub struct GraphBuilder {
    graph: GraphProto,
    next_id: usize,
}

impl GraphBuilder {
    pub fn new(name: &str) -> GraphBuilder {
        GraphBuilder {
            graph: GraphProto {
                name: Some(name.into()),
                ..Default::default()
            },
            next_id: 0,
        }
    }

    /// A tensor name no other builder call has given out: `stem_N`.
    pub fn fresh(&mut self, stem: &str) -> String {
        self.next_id += 1;
        format!("{stem}_{}", self.next_id)
    }

    /// A graph input `name`: float, shape `[N, width]` with `N` symbolic.
    pub fn float_input(&mut self, name: &str, width: usize) {
        let info = value_info(name, DataType::Float, &[None, Some(width as i64)]);
        self.graph.input.push(info);
    }

    /// A graph input `name`: double, shape `[N, width]`.
    pub fn double_input(&mut self, name: &str, width: usize) {
        let info = value_info(name, DataType::Double, &[None, Some(width as i64)]);
        self.graph.input.push(info);
    }

    /// A graph input `name`: string, shape `[N, width]`.
    pub fn string_input(&mut self, name: &str, width: usize) {
        let info = value_info(name, DataType::String, &[None, Some(width as i64)]);
        self.graph.input.push(info);
    }

    /// Declares tensor `name` a graph output: float `[N, width]`.
    pub fn float_output(&mut self, name: &str, width: usize) {
        let info = value_info(name, DataType::Float, &[None, Some(width as i64)]);
        self.graph.output.push(info);
    }

    /// Declares tensor `name` a graph output: int64 `[N]`.
    pub fn int64_output(&mut self, name: &str) {
        let info = value_info(name, DataType::Int64, &[None]);
        self.graph.output.push(info);
    }

    /// A float constant (an initializer) with the given shape; returns its name.
    pub fn constant(&mut self, stem: &str, dims: &[i64], values: &[f32]) -> String {
        let name = self.fresh(stem);
        self.graph.initializer.push(TensorProto {
            name: Some(name.clone()),
            dims: dims.to_vec(),
            data_type: Some(DataType::Float as i32),
            float_data: values.to_vec(),
            ..Default::default()
        });
        name
    }

    /// A double constant (an initializer); returns its name.
    pub fn constant_f64(&mut self, stem: &str, dims: &[i64], values: &[f64]) -> String {
        let name = self.fresh(stem);
        self.graph.initializer.push(TensorProto {
            name: Some(name.clone()),
            dims: dims.to_vec(),
            data_type: Some(DataType::Double as i32),
            double_data: values.to_vec(),
            ..Default::default()
        });
        name
    }

    /// An int64 constant (an initializer); returns its name.
    pub fn constant_i64(&mut self, stem: &str, dims: &[i64], values: &[i64]) -> String {
        let name = self.fresh(stem);
        self.graph.initializer.push(TensorProto {
            name: Some(name.clone()),
            dims: dims.to_vec(),
            data_type: Some(DataType::Int64 as i32),
            int64_data: values.to_vec(),
            ..Default::default()
        });
        name
    }

    /// Appends a node; `domain` is `""` for the default domain.
    pub fn node(
        &mut self,
        op_type: &str,
        domain: &str,
        inputs: &[&str],
        outputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) {
        let name = self.fresh(op_type);
        self.graph.node.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: Some(name),
            op_type: Some(op_type.into()),
            domain: Some(domain.into()),
            attribute: attributes,
            ..Default::default()
        });
    }

    /// The finished model, importing both opsets.
    pub fn finish(self, doc: &str) -> ModelProto {
        let opset = |domain: &str, version| OperatorSetIdProto {
            domain: Some(domain.into()),
            version: Some(version),
        };
        ModelProto {
            ir_version: Some(IR_VERSION),
            opset_import: vec![opset("", OPSET), opset(ML_DOMAIN, OPSET_ML)],
            producer_name: Some("optbench".into()),
            producer_version: Some(env!("CARGO_PKG_VERSION").into()),
            doc_string: Some(doc.into()),
            graph: Some(self.graph),
            ..Default::default()
        }
    }
}

fn value_info(name: &str, elem: DataType, dims: &[Option<i64>]) -> ValueInfoProto {
    use tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(v) => Value::DimValue(*v),
                None => Value::DimParam("N".into()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn attribute(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        i: Some(v),
        ..attribute(name, AttributeType::Int)
    }
}

pub fn attr_ints(name: &str, v: Vec<i64>) -> AttributeProto {
    AttributeProto {
        ints: v,
        ..attribute(name, AttributeType::Ints)
    }
}

pub fn attr_floats(name: &str, v: Vec<f32>) -> AttributeProto {
    AttributeProto {
        floats: v,
        ..attribute(name, AttributeType::Floats)
    }
}

pub fn attr_string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        s: Some(v.as_bytes().to_vec()),
        ..attribute(name, AttributeType::String)
    }
}

pub fn attr_strings(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto {
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..attribute(name, AttributeType::Strings)
    }
}
