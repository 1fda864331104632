// An empty 500 ml clear PET water bottle (blue cap, ribbed body, printed label) on a table.
#version 3.7;
global_settings { assumed_gamma 1.0 max_trace_level 24 }
camera { location <0, 14, -60> look_at <0, 11.5, 0> angle 30 }
light_source { <-30, 60, -50> color rgb 1.1 area_light <12,0,0>, <0,0,12>, 4, 4 adaptive 1 jitter }
light_source { <40, 30, -20> color rgb 0.5 }
background { color rgb <0.93, 0.93, 0.91> }
plane { y, 0 pigment { color rgb <0.72, 0.55, 0.38> } finish { specular 0.1 } }
plane { z, 25 pigment { color rgb <0.94, 0.94, 0.92> } }
#declare Clear = material { texture {
    pigment { color rgbf <0.97, 0.99, 1.0, 0.9> }
    finish { specular 0.9 roughness 0.001 reflection { 0.03, 0.12 fresnel on } conserve_energy } }
  interior { ior 1.45 } }
union {
  sor { 12,
    <0.0, -0.1>, <3.0, 0.0>, <3.3, 0.6>, <3.3, 4.0>, <3.15, 5.0>, <3.3, 6.0>, <3.3, 15.0>,
    <2.9, 17.0>, <1.6, 19.5>, <1.35, 20.5>, <1.35, 21.6>, <1.35, 21.7> open }
  #for (K, 0, 5) torus { 3.28, 0.09 translate y*(1.2 + K*0.55) } #end
  #for (K, 0, 3) torus { 3.28, 0.09 translate y*(13.2 + K*0.5) } #end
  material { Clear } }
difference {
  cylinder { <0, 21.4, 0>, <0, 23.3, 0>, 1.55 }
  #for (K, 0, 35) cylinder { <1.6, 21.5, 0>, <1.6, 23.4, 0>, 0.07 rotate y*K*10 } #end
  pigment { color rgb <0.1, 0.35, 0.8> } finish { specular 0.4 } }
torus { 1.5, 0.12 translate y*21.2 pigment { color rgb <0.1, 0.35, 0.8> } }
cylinder { <0, 6.8, 0>, <0, 11.8, 0>, 3.34 open
  pigment { gradient y color_map {
      [0.0 color rgb <0.05,0.3,0.75>] [0.3 color rgb <0.05,0.3,0.75>]
      [0.3 color rgb 1] [0.7 color rgb 1] [0.7 color rgb <0.3,0.7,0.95>] [1 color rgb <0.3,0.7,0.95>] }
    scale 5 translate y*6.8 }
  finish { specular 0.3 } }
