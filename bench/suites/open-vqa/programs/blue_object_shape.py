def execute_command_blue_object_shape(image, possible_answers, query, ImagePatch, VideoSegment, llm_query, bool_to_yesno, distance, best_image_match):
    # Answer is: a shape name (circle, square, triangle, star, diamond or sign), or N/A
    # Question: What shape is the blue object?
    image_patch = ImagePatch(image)
    blue_patches = image_patch.find("blue object")
    if len(blue_patches) == 0:
        return "N/A"
    blue_patch = blue_patches[0]
    # Purple is often taken for blue in dim scenes: confirm the color on the crop
    if not blue_patch.verify_property("object", "blue"):
        return "N/A"
    return blue_patch.best_text_match(["circle", "square", "triangle", "star", "diamond", "sign"])
